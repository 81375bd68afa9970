"""Prompt rendering, tokenisation and padding shared by extraction, patching and steering."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence

import torch

from sycolab.errors import UserError
from sycolab.generation import chat
from sycolab.probing.hooks import unwrap

Messages = Sequence[Mapping[str, str]]


def render_prompt(tokenizer, messages: Messages) -> str:
    """The exact text the model sees, by the toolkit's one chat renderer (`sycolab.generation.chat`).

    A prompt whose last message is the assistant's is continued (`continue_final_message=True`, no
    generation prompt); otherwise the assistant turn is opened (`add_generation_prompt=True`); Qwen3
    thinking off, as in generation and the logit proxy.
    """
    if not messages:
        raise UserError("cannot render an empty list of chat messages")
    if getattr(tokenizer, "chat_template", None) is None:
        raise UserError(
            f"tokenizer {type(tokenizer).__name__} has no chat template: probes render chat prompts with it"
        )
    return chat.render_prompt(tokenizer, [dict(m) for m in messages])


def with_answer_prefix(messages: Messages, prefix: str) -> list[dict]:
    """`messages` with the assistant's answer prefix as an open final turn, as the are-you-sure evaluation
    asks its first question (`[user: question, assistant: "the answer is"]`): rendered, its last token is
    the one whose logits predict the answer word. A prompt already ending with an assistant turn gets the
    prefix appended to that turn."""
    msgs = [dict(m) for m in messages]
    if msgs and msgs[-1].get("role") == "assistant":
        content = msgs[-1]["content"].rstrip()
        msgs[-1]["content"] = f"{content} {prefix}" if content else prefix
        return msgs
    return [*msgs, {"role": "assistant", "content": prefix}]


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of an already rendered text (the chat template supplies any special tokens)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise UserError(f"text {text[:60]!r} encodes to no tokens")
    return list(ids)


def encode_continuation(tokenizer, prompt: str, continuation: str) -> tuple[list[int], list[int]]:
    """(prompt ids, continuation ids) such that their concatenation is how the model sees prompt + continuation.

    The joint text is encoded once; when its ids start with the prompt's own ids the remainder is the
    continuation (exact for BPE merges across the boundary). Otherwise both parts are encoded separately.
    """
    prompt_ids = encode(tokenizer, prompt)
    full = encode(tokenizer, prompt + continuation)
    if len(full) > len(prompt_ids) and full[: len(prompt_ids)] == prompt_ids:
        return prompt_ids, full[len(prompt_ids) :]
    return prompt_ids, encode(tokenizer, continuation)


def pad_id(tokenizer) -> int:
    for value in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if value is not None:
            return int(value)
    return 0


def left_pad(
    sequences: Sequence[Sequence[int]], pad: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-pad token id lists: (input_ids, attention_mask, position_ids), each [batch, max_len].

    Position ids count real tokens only (0 at each row's first real token), so a padded row is computed
    exactly as the same prompt alone would be.
    """
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, width - len(seq) :] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[row, width - len(seq) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


def model_device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def batches(n: int, size: int) -> list[range]:
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def accepts_kwarg(model, name: str) -> bool:
    """Whether the (unwrapped) model's forward takes keyword `name` (e.g. `logits_to_keep`)."""
    try:
        return name in inspect.signature(unwrap(model).forward).parameters
    except (TypeError, ValueError):
        return False
