"""Generation settings as they appear in a study config (e.g. under `evaluate.generation`)."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from sycolab.generation.base import SamplingParams


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

    @field_validator("gpu_memory_utilization")
    @classmethod
    def _fraction(cls, v: float) -> float:
        if not 0 < v <= 1:
            raise ValueError(f"expected a fraction of GPU memory in (0, 1], got {v}")
        return v

    @field_validator("tensor_parallel_size", "max_lora_rank", "chunk_size")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"expected an integer >= 1, got {v}")
        return v

    @field_validator("max_model_len")
    @classmethod
    def _positive_or_none(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError(f"expected an integer >= 1 (tokens) or null for the model's own limit, got {v}")
        return v


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

    @field_validator("batch_size")
    @classmethod
    def _batch_size(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"expected an integer >= 1 (prompts per generation batch), got {v}")
        return v

    @field_validator("max_new_tokens")
    @classmethod
    def _max_new_tokens(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"expected an integer >= 1 (tokens generated per completion), got {v}")
        return v

    @field_validator("temperature")
    @classmethod
    def _temperature(cls, v: float) -> float:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"expected a number >= 0 (0 = greedy decoding), got {v}")
        return v

    @field_validator("top_p")
    @classmethod
    def _top_p(cls, v: float) -> float:
        if not 0 < v <= 1:
            raise ValueError(f"expected a number in (0, 1] (1 = no nucleus truncation), got {v}")
        return v

    @field_validator("top_k")
    @classmethod
    def _top_k(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"expected an integer >= 0 (tokens kept when sampling; 0 = no top-k truncation), got {v}")
        return v

    @field_validator("n_samples")
    @classmethod
    def _n_samples(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"expected an integer >= 1 (completions per prompt), got {v}")
        return v

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"expected an integer >= 0, got {v}")
        return v

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
