"""`JudgeConfig`: which grader plays the judge role (the `evaluate.judge` section of a study config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sycolab.chat_http import EndpointConfig


class JudgeConfig(EndpointConfig):
    """The judge.

    kind: `rule` (exact on the tiny world), `openai` (any OpenAI-compatible chat endpoint: needs
    `base_url` such as "http://127.0.0.1:8000/v1" and `model`), or `hf` (a local transformers model:
    needs `model_path`). `api_key_env` is the NAME of the environment variable holding the key (the key
    itself never goes in a config); leave it empty for a local server without auth. The endpoint fields
    and their checks are `sycolab.chat_http.EndpointConfig`'s.
    """

    kind: Literal["rule", "openai", "hf"] = "rule"
    max_tokens: int = Field(16, ge=1, description="reply budget: labels are one word")
    model_path: str | None = None
    trust_remote_code: bool = False
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "auto"
    batch_size: int = Field(8, ge=1, description="hf judge: requests generated together")

    @model_validator(mode="after")
    def _needs(self) -> JudgeConfig:
        missing: list[str] = []
        if self.kind == "openai":
            missing = [f for f in ("base_url", "model") if not getattr(self, f)]
        elif self.kind == "hf":
            missing = [] if self.model_path else ["model_path"]
        if missing:
            raise ValueError(f"judge kind '{self.kind}' needs {', '.join(missing)}")
        return self
