"""Prompt rendering, tokenisation and padding for extraction, patching and steering: the toolkit's one chat
renderer (`sycolab.generation.chat`), tokeniser helpers (`sycolab.generation.scoring`) and padding helper
(`sycolab.generation._torch_utils`), gathered for the probing modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sycolab.generation._torch_utils import accepts_kwarg, batches, left_pad, model_device, pad_id
from sycolab.generation.chat import render_prompt
from sycolab.generation.scoring import encode, encode_continuation

__all__ = [
    "Messages", "accepts_kwarg", "batches", "encode", "encode_continuation", "left_pad", "model_device", "pad_id",
    "render_prompt", "with_answer_prefix",
]

Messages = Sequence[Mapping[str, str]]


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
