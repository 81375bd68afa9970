"""The generation interface every backend implements, and the sampling parameters they share.

A prompt is a list of chat messages (`{"role": ..., "content": ...}`). A prompt whose last message is an
assistant turn is continued (the model writes the rest of that turn); any other prompt gets a fresh
assistant turn. Qwen3 thinking is disabled and `<think>...</think>` blocks are removed from completions.
Completions are returned with surrounding whitespace removed, truncated before the first stop string.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sycolab.errors import UserError

BatchCallback = Callable[[list[int], list[list[str]]], None]
"""`on_batch(indices, completions)`: called by a backend after each batch finishes, with the indices (into
the `prompts` list given to `generate`) of the prompts in that batch and their completions, so a caller
can persist results before the whole call returns."""


@dataclass(frozen=True)
class SamplingParams:
    """How to sample: greedy when `temperature == 0`, otherwise sampling with `temperature`, nucleus
    `top_p` and `top_k` (the `top_k` most likely tokens; 0 = no top-k truncation).

    `n` completions per prompt (greedy returns `n` copies of the one greedy completion). `seed` makes
    sampling reproducible. `stop` strings end a completion (the stop string itself is not returned);
    the tokenizer's end-of-turn token (eos / `<|im_end|>`) always ends it.

    `allowed_first_tokens`: when non-empty, the first generated token must be one of these strings, each
    of which must be a single token of the model's tokenizer (e.g. the option letters "A".."D" after the
    prefill "The answer is ("); later tokens are unconstrained. Empty = no constraint.
    """

    max_new_tokens: int = 48
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    n: int = 1
    seed: int = 0
    stop: tuple[str, ...] = ()
    allowed_first_tokens: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            raise UserError(f"SamplingParams.stop: expected a list of strings, got the string {self.stop!r}")
        if isinstance(self.allowed_first_tokens, str):
            raise UserError("SamplingParams.allowed_first_tokens: expected a list of strings, got the string "
                            f"{self.allowed_first_tokens!r}")
        object.__setattr__(self, "stop", tuple(self.stop))
        object.__setattr__(self, "allowed_first_tokens", tuple(self.allowed_first_tokens))
        problems = []
        if not (isinstance(self.max_new_tokens, int) and self.max_new_tokens >= 1):
            problems.append(f"max_new_tokens: expected an integer >= 1, got {self.max_new_tokens!r}")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            problems.append(f"temperature: expected a number >= 0 (0 = greedy), got {self.temperature!r}")
        if not (0 < self.top_p <= 1):
            problems.append(f"top_p: expected a number in (0, 1], got {self.top_p!r}")
        if not (isinstance(self.top_k, int) and not isinstance(self.top_k, bool) and self.top_k >= 0):
            problems.append(f"top_k: expected an integer >= 0 (0 = no top-k truncation), got {self.top_k!r}")
        if not (isinstance(self.n, int) and self.n >= 1):
            problems.append(f"n: expected an integer >= 1, got {self.n!r}")
        if not (isinstance(self.seed, int) and self.seed >= 0):
            problems.append(f"seed: expected an integer >= 0, got {self.seed!r}")
        if not all(isinstance(s, str) and s for s in self.stop):
            problems.append(f"stop: expected non-empty strings, got {list(self.stop)!r}")
        if not all(isinstance(t, str) and t for t in self.allowed_first_tokens):
            problems.append(
                f"allowed_first_tokens: expected non-empty strings, got {list(self.allowed_first_tokens)!r}"
            )
        if problems:
            raise UserError("SamplingParams: " + "; ".join(problems))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@runtime_checkable
class GenerationBackend(Protocol):
    """Anything that turns chat prompts into completions: `generate` returns one list of `params.n`
    completions per prompt, in prompt order. `model_id` identifies the model (and its weights) for caching.
    Backends may also accept a keyword `on_batch: BatchCallback | None` (both built-in backends do)."""

    model_id: str

    def generate(self, prompts: list[list[dict]], params: SamplingParams) -> list[list[str]]: ...
