"""Where a result came from: content hashes of data files and weights, the judge and generation settings
that decide a verdict or a reply, and one typed `Provenance` record stored beside every result
(`eval/<name>/metrics.json` "provenance", `probe/summary.json` "provenance").

The same fingerprints make the stage keys (`sycolab.study.stages`), so a result is reused only when
everything written in its provenance is unchanged. No credential is ever recorded: the judge appears as
kind, model and endpoint (user:password stripped from a URL); the api key's variable is not read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sycolab.generation.config import GenerationConfig
from sycolab.judging.config import JudgeConfig
from sycolab.models.digest import file_sha256
from sycolab.store.run_store import package_versions


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def judge_settings(cfg: JudgeConfig) -> dict[str, Any]:
    """What decides a verdict: kind, model, endpoint, reply budget, weights dtype. Concurrency, timeouts,
    retries and batch size do not change a verdict and are left out; so is the api key's variable."""
    return {"kind": cfg.kind, "model": cfg.model or cfg.model_path, "endpoint": _public_url(cfg.base_url),
            "max_tokens": cfg.max_tokens, "dtype": cfg.dtype if cfg.kind == "hf" else None}


def generation_settings(cfg: GenerationConfig) -> dict[str, Any]:
    """What decides a reply: backend and sampling (max_new_tokens, temperature, top_p, top_k, n, seed, stop)
    and whether multiple-choice first answers were constrained to a letter."""
    return {"backend": cfg.backend, "max_new_tokens": cfg.max_new_tokens, "temperature": cfg.temperature,
            "top_p": cfg.top_p, "top_k": cfg.top_k, "n_samples": cfg.n_samples, "seed": cfg.seed,
            "stop": list(cfg.stop), "constrain_mc_letter": cfg.constrain_mc_letter}


def _public_url(url: str | None) -> str | None:
    """`url` without user:password (a URL may carry a credential in its netloc)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class DataFile:
    """A data file a result read: its name in the config (`answer`), where it was, and its content hash."""

    name: str
    path: str
    sha256: str


@dataclass(frozen=True)
class Provenance:
    """Everything that decided a stored result (the "provenance" entry of metrics.json and probe/summary.json)."""

    model: str | None
    stage_key: str | None            # key of the stage that made the model's weights
    weights_sha256: str | None       # weights digest (`weights_sha256`) of the model folder
    judge: dict[str, Any]            # `judge_settings`
    generation: dict[str, Any]       # `generation_settings`
    data: list[DataFile] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    evaluation_key: str | None = None  # the key this result is reused under (eval stage key, or eval --data key)
    models: dict[str, str] = field(default_factory=dict)  # study-wide results (probing): weights digest by model
    steering: dict[str, Any] | None = None  # a steered model (`sycolab.study.steer`): source, layer, alpha, direction

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Provenance:
        return cls(model=obj.get("model"), stage_key=obj.get("stage_key"), weights_sha256=obj.get("weights_sha256"),
                   judge=dict(obj.get("judge") or {}), generation=dict(obj.get("generation") or {}),
                   data=[DataFile(**d) for d in obj.get("data") or []], versions=dict(obj.get("versions") or {}),
                   evaluation_key=obj.get("evaluation_key"), models=dict(obj.get("models") or {}),
                   steering=dict(obj["steering"]) if obj.get("steering") else None)


def display_path(path: Path, root: Path) -> str:
    """`path` relative to the run dir when inside it (so a moved run dir reads the same), else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def data_files(paths: Mapping[str, Path], root: Path) -> list[DataFile]:
    return [DataFile(name, display_path(p, root), file_sha256(p)) for name, p in sorted(paths.items())]


def build_provenance(model: str | None, stage_key: str | None, weights: str | None, judge: JudgeConfig,
                     generation: GenerationConfig, data: Mapping[str, Path], root: Path,
                     evaluation_key: str | None = None, models: dict[str, str] | None = None,
                     steering: dict[str, Any] | None = None) -> Provenance:
    """The record for a result of `model` (None for a study-wide result such as probing, which lists the
    weights digest of each model it read in `models`)."""
    return Provenance(model=model, stage_key=stage_key, weights_sha256=weights, judge=judge_settings(judge),
                      generation=generation_settings(generation), data=data_files(data, root),
                      versions=package_versions(), evaluation_key=evaluation_key, models=dict(models or {}),
                      steering=steering)

