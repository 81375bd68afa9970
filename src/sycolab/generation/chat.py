"""Prompt rendering and completion post-processing shared by every backend, the logit proxy, probing and serving."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sycolab.errors import UserError

_ROLES = ("system", "user", "assistant")
_CLOSED_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def validate_messages(messages: Any, where: str = "prompt") -> list[dict]:
    """Check a chat prompt is a non-empty list of {"role", "content": str} dicts; return it."""
    if not isinstance(messages, list) or not messages:
        raise UserError(f"{where}: expected a non-empty list of chat messages, got {type(messages).__name__}")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise UserError(f"{where}[{i}]: expected a dict with 'role' and 'content', got {message!r:.80}")
        if message["role"] not in _ROLES:
            raise UserError(f"{where}[{i}].role: expected one of {_ROLES}, got {message['role']!r}")
        if not isinstance(message["content"], str):
            raise UserError(f"{where}[{i}].content: expected a string, got {type(message['content']).__name__}")
    return messages


def is_continuation(messages: Sequence[dict]) -> bool:
    """True when the prompt ends with an assistant turn, which the model then continues."""
    return bool(messages) and messages[-1].get("role") == "assistant"


def render_prompt(
    tokenizer: Any, messages: Sequence[Mapping[str, Any]], template_kwargs: Mapping[str, Any] | None = None
) -> str:
    """The exact text the model sees, the toolkit's one chat renderer (generation, the logit proxy, probing
    and serving): the chat template with a generation prompt, or with the final assistant message left open
    (`continue_final_message`) when the prompt ends with an assistant turn. `enable_thinking=False` turns
    Qwen3's thinking off; templates that do not use it ignore it. `template_kwargs` (e.g. a server client's
    `chat_template_kwargs`) are passed to the template over that default."""
    checked = validate_messages(messages)
    if getattr(tokenizer, "chat_template", None) is None:
        raise UserError(f"tokenizer {type(tokenizer).__name__} has no chat template to render chat prompts with")
    continued = is_continuation(checked)
    return tokenizer.apply_chat_template(
        checked,
        tokenize=False,
        add_generation_prompt=not continued,
        continue_final_message=continued,
        **{"enable_thinking": False, **(template_kwargs or {})},
    )


def render_conversation(tokenizer: Any, messages: list[dict]) -> str:
    """A finished conversation rendered whole, every turn closed (no generation prompt), as TRL renders
    conversational data for a reward model: the text a sequence-classification reward model scores.
    `enable_thinking=False` as everywhere (Qwen3's template closes the last assistant turn the same either way)."""
    validate_messages(messages, "conversation")
    return tokenizer.apply_chat_template(messages, tokenize=False, enable_thinking=False)


def strip_think(text: str) -> str:
    """Remove reasoning: closed `<think>...</think>` blocks, everything up to a `</think>` whose opening
    tag was in the prompt, and an unclosed `<think>` with everything after it (reasoning that never
    finished carries no answer)."""
    text = _CLOSED_THINK.sub("", text)
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    start = text.find("<think>")
    if start != -1:
        text = text[:start]
    return text


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut `text` before the earliest occurrence of any stop string."""
    cut = len(text)
    for s in stop:
        pos = text.find(s)
        if pos != -1:
            cut = min(cut, pos)
    return text[:cut]


def postprocess_completion(text: str, stop: Sequence[str] = ()) -> str:
    """Decoded new tokens -> returned completion: strip reasoning, cut at stop strings, trim whitespace."""
    return truncate_at_stop(strip_think(text), stop).strip()
