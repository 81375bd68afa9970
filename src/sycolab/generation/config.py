"""Generation settings as they appear in a study config (e.g. under `evaluate.generation`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from sycolab.generation.base import SamplingParams

Expected = dict[str, tuple[Callable[[Any], bool], str]]
"""field -> (its check, what a valid value is); a value that fails says "expected <what>, got <value>"."""

_VLLM_EXPECTED: Expected = {
    "gpu_memory_utilization": (lambda v: 0 < v <= 1, "a fraction of GPU memory in (0, 1]"),
    "tensor_parallel_size": (lambda v: v >= 1, "an integer >= 1"),
    "max_lora_rank": (lambda v: v >= 1, "an integer >= 1"),
    "chunk_size": (lambda v: v >= 1, "an integer >= 1"),
    "max_model_len": (lambda v: v is None or v >= 1, "an integer >= 1 (tokens) or null for the model's own limit"),
}
_GENERATION_EXPECTED: Expected = {
    "batch_size": (lambda v: v >= 1, "an integer >= 1 (prompts per generation batch)"),
    "max_new_tokens": (lambda v: v >= 1, "an integer >= 1 (tokens generated per completion)"),
    "temperature": (lambda v: math.isfinite(v) and v >= 0, "a number >= 0 (0 = greedy decoding)"),
    "top_p": (lambda v: 0 < v <= 1, "a number in (0, 1] (1 = no nucleus truncation)"),
    "top_k": (lambda v: v >= 0, "an integer >= 0 (tokens kept when sampling; 0 = no top-k truncation)"),
    "n_samples": (lambda v: v >= 1, "an integer >= 1 (completions per prompt)"),
    "seed": (lambda v: v >= 0, "an integer >= 0"),
}


def _expect(expected: Expected, value: Any, info: ValidationInfo) -> Any:
    assert info.field_name is not None  # set for every field validator
    check, what = expected[info.field_name]
    if not check(value):
        raise ValueError(f"expected {what}, got {value}")
    return value


class VLLMOptions(BaseModel):
    """Engine options used only by the vLLM backend (see vllm.LLM)."""

    model_config = ConfigDict(extra="forbid")

    gpu_memory_utilization: float = 0.85
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    dtype: str = "auto"
    max_lora_rank: int = 64
    enforce_eager: bool = False
    chunk_size: int = 4096
    """Prompts per `llm.chat` call; the generation cache is written after each chunk."""

    @field_validator(*_VLLM_EXPECTED)
    @classmethod
    def _in_range(cls, value: Any, info: ValidationInfo) -> Any:
        return _expect(_VLLM_EXPECTED, value, info)


class GenerationConfig(BaseModel):
    """How evaluation prompts are answered: which backend, how many prompts per batch, and how to sample.

    Greedy decoding when `temperature` is 0 (the default, as in the reference evaluation); `n_samples`
    completions per prompt need `temperature` > 0. `top_k` keeps only the k most likely tokens when
    sampling (0 = off). `constrain_mc_letter`: the first answer of a multiple-choice are_you_sure row (after
    the prefill "The answer is (") must start with one of the row's option letters, as in the reference
    study; other prompts are never constrained.
    """

    model_config = ConfigDict(extra="forbid")

    backend: Literal["hf", "vllm"] = "hf"
    batch_size: int = 64
    max_new_tokens: int = 24
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    n_samples: int = 1
    seed: int = 0
    stop: list[str] = []
    constrain_mc_letter: bool = False
    vllm: VLLMOptions = VLLMOptions()

    @field_validator(*_GENERATION_EXPECTED)
    @classmethod
    def _in_range(cls, value: Any, info: ValidationInfo) -> Any:
        return _expect(_GENERATION_EXPECTED, value, info)

    @field_validator("stop")
    @classmethod
    def _stop(cls, v: list[str]) -> list[str]:
        if any(s == "" for s in v):
            raise ValueError("expected non-empty stop strings; an empty string would stop every completion at once")
        return v

    @model_validator(mode="after")
    def _samples_need_sampling(self) -> GenerationConfig:
        if self.n_samples > 1 and self.temperature == 0:
            raise ValueError(
                f"n_samples={self.n_samples} with temperature=0 would return {self.n_samples} identical greedy "
                "completions; set temperature > 0 (e.g. 0.7) or n_samples: 1"
            )
        return self

    def sampling_params(self) -> SamplingParams:
        """Every `SamplingParams` field this config also has, by name, and `n_samples` as its `n`."""
        shared = {field.name for field in dataclasses.fields(SamplingParams)} & set(type(self).model_fields)
        return SamplingParams(**self.model_dump(include=shared), n=self.n_samples)
