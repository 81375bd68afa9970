"""The first-token constraint of `SamplingParams.allowed_first_tokens`: token ids for the allowed strings,
and the transformers logits processor the HF backend applies at the first generated step.

Used for the reference study's letter-constrained multiple-choice answer: after the prefill
"The answer is (" the first generated token must be an option letter; the rest of the turn is free.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import LogitsProcessor

from sycolab.errors import UserError


def first_token_ids(tokenizer: Any, allowed: tuple[str, ...], model_id: str) -> list[int]:
    """The token id of each allowed string; UserError naming the string when the tokenizer does not write
    it as exactly one token (the constraint could then not be a one-step mask)."""
    ids = []
    for text in allowed:
        encoded = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(encoded) != 1 or encoded[0] == getattr(tokenizer, "unk_token_id", None):
            raise UserError(
                f"{model_id}: allowed first token {text!r} is not a single token of this tokenizer "
                f"(it encodes to {encoded}); a first-token constraint needs single-token strings"
            )
        ids.append(encoded[0])
    return ids


class FirstTokenConstraint(LogitsProcessor):
    """Sets every score but those of `allowed_ids` to -inf at the first generated step (the input is still
    `prompt_width` long); later steps pass through. Transformers applies user logits processors before
    temperature/top-k/top-p, so sampling then draws among the allowed tokens only, and greedy picks the
    likeliest allowed one."""

    def __init__(self, allowed_ids: list[int], prompt_width: int):
        self.allowed_ids, self.prompt_width = allowed_ids, prompt_width

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] != self.prompt_width:
            return scores
        mask = torch.full_like(scores, float("-inf"))
        mask[:, self.allowed_ids] = 0.0
        return scores + mask
