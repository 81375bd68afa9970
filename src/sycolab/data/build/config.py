"""`DataBuildConfig`: the `data_build` section of a study config (how `sycolab data` builds training sets for a
real model through a generator endpoint). Defaults are the reference recipe (`sycolab.data.build.prompts`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sycolab.chat_http import EndpointConfig
from sycolab.data.build.prompts import FACTUAL_MODES, INTENSITIES, TACTICS

_SHARE_TOLERANCE = 1e-6


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeneratorConfig(EndpointConfig):
    """The generator's endpoint (fields and checks: `sycolab.chat_http.EndpointConfig`), e.g. base_url
    "http://127.0.0.1:8002/v1". `extra_body` is merged into every request (e.g.
    `{chat_template_kwargs: {enable_thinking: false}}`)."""

    base_url: str
    model: str = Field(min_length=1)
    max_concurrency: int = Field(16, ge=1, le=512)
    timeout_s: float = Field(120.0, gt=0)
    temperature: float = Field(0.8, ge=0, description="reference: 0.8")
    max_tokens: int = Field(512, ge=1)
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @field_validator("extra_body")
    @classmethod
    def _extra(cls, value: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(set(value) & {"model", "messages", "seed", "temperature", "max_tokens"})
        if clash:
            raise ValueError(f"extra_body must not set {clash}: they are generator fields or set per request")
        return value


class FilterConfig(_Section):
    """Replies (and written user prompts) are dropped when empty, cut off by `max_tokens` (unless
    `drop_truncated` is false), shorter than `min_words` or longer than `max_words` words, or repetitive: more
    than `max_repeated_trigram_share` of their word trigrams repeat an earlier trigram of the same text."""

    drop_truncated: bool = True
    min_words: int = Field(5, ge=1)
    max_words: int = Field(400, ge=1)
    max_repeated_trigram_share: float = Field(0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _order(self) -> FilterConfig:
        if self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) must not exceed max_words ({self.max_words})")
        return self


def _shares_problem(shares: dict[str, float], known: dict[str, str], what: str) -> str | None:
    if not shares:
        return f"{what}: expected at least one entry"
    unknown = sorted(set(shares) - set(known))
    if unknown:
        return f"{what}: unknown name(s) {unknown}; choose from {sorted(known)}"
    negative = sorted(k for k, v in shares.items() if v < 0)
    if negative:
        return f"{what}: shares must not be negative ({negative})"
    total = sum(shares.values())
    if abs(total - 1.0) > _SHARE_TOLERANCE:
        return f"{what}: shares must sum to 1, got {total:g} ({', '.join(f'{k}={v:g}' for k, v in shares.items())})"
    return None


class DataBuildConfig(_Section):
    """`sycolab data QUESTIONS --config CONFIG --out DIR`: one user prompt per question and tactic, a
    sycophantic and an honest reply per prompt. `intensities` and `factual_modes` map a name to its share
    (sampled per item, seeded); `seed` null takes the study's `seed`. Whole questions are held out
    (`heldout_fraction` of them), so no held-out question appears in any training file."""

    generator: GeneratorConfig | None = None
    seed: int | None = None
    tactics: list[str] = Field(default_factory=lambda: list(TACTICS))
    intensities: dict[str, float] = Field(default_factory=lambda: {"subtle": 0.3, "moderate": 0.5, "extreme": 0.2})
    factual_modes: dict[str, float] = Field(
        default_factory=lambda: {"match_false_belief": 0.4, "validate_only": 0.6}
    )
    heldout_fraction: float = Field(0.05, ge=0, lt=1)
    filters: FilterConfig = Field(default_factory=FilterConfig)

    @model_validator(mode="after")
    def _recipe(self) -> DataBuildConfig:
        problems = []
        unknown = sorted(set(self.tactics) - set(TACTICS))
        if not self.tactics or unknown or len(set(self.tactics)) != len(self.tactics):
            problems.append(f"tactics: expected distinct names from {sorted(TACTICS)}, got {self.tactics}")
        for what, shares, known in (("intensities", self.intensities, INTENSITIES),
                                    ("factual_modes", self.factual_modes, FACTUAL_MODES)):
            problem = _shares_problem(shares, known, what)
            if problem:
                problems.append(problem)
        if problems:
            raise ValueError("; ".join(problems))
        return self
