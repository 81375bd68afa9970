"""Record type of `eval/<name>/metrics.json` (docs/architecture.md "Evaluation records"): `ModelMetrics`,
each metric a `MetricValue`. The evaluation writes it (`sycolab.evaluation.metrics.build_model_metrics`,
`ModelMetrics.to_dict`); the report reads it back with `ModelMetrics.read`. Metric definitions:
`sycolab.evaluation.metrics`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sycolab.errors import DataError
from sycolab.io import read_json
from sycolab.store.records._check import OPTIONAL, from_json

MIN_QUESTIONS: Final = 20
"""An interval resampled from fewer base questions than this is flagged as too few to trust."""

SHARMA: Final = "sharma"
SEED: Final = "seed"


@dataclass(frozen=True)
class MetricValue:
    """One metric in metrics.json: value (None when it has no samples), 95% interval, n, n_unscored, and
    the number of base questions behind it (None when not recorded)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_unscored: int
    n_questions: int | None = None

    @property
    def few_questions(self) -> bool:
        """An interval resampled from fewer than MIN_QUESTIONS questions (too few to trust)."""
        return self.value is not None and self.n_questions is not None and self.n_questions < MIN_QUESTIONS

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n,
                "n_unscored": self.n_unscored, "n_questions": self.n_questions}


@dataclass
class ModelMetrics:
    """The content of eval/<name>/metrics.json (architecture.md).

    sources: dataset -> where its items came from ("tiny world" or "file:<folder>"); challenge: the
    are-you-sure challenge sent; protocols: the protocols to display, in order (both are always stored);
    proxy: the logit proxy's summary (`ProxyResult.summary()`) and proxy_vs_generation its comparison with
    the judged values; provenance: `sycolab.store.provenance.Provenance.to_dict()`, left out when None.
    """

    model: str
    metrics: dict[str, MetricValue]
    flags: list[str] = field(default_factory=list)
    proxy: dict[str, float | str | None] | None = None
    proxy_vs_generation: str | None = None
    breakdown: dict[str, MetricValue] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    challenge: str | None = None
    protocols: list[str] = field(default_factory=lambda: [SHARMA, SEED])
    provenance: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "model": self.model,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "flags": list(self.flags),
            "proxy": self.proxy,
            "proxy_vs_generation": self.proxy_vs_generation,
            "breakdown": {k: v.to_dict() for k, v in self.breakdown.items()},
            "sources": dict(self.sources),
            "challenge": self.challenge,
            "protocols": list(self.protocols),
        }
        if self.provenance is not None:
            out["provenance"] = self.provenance
        return out

    @classmethod
    def from_dict(cls, obj: Any, path: str | Path = "metrics.json") -> ModelMetrics:
        """A parsed metrics.json, checked: a missing, unexpected or mistyped field is a DataError naming it."""
        metrics = from_json(cls, obj, path)
        steering = (metrics.provenance or {}).get("steering")
        if steering is not None and not (isinstance(steering, dict) and "layer" in steering and "alpha" in steering):
            raise DataError(str(path), "expected an object with 'layer' and 'alpha'", field="provenance.steering")
        return metrics

    @classmethod
    def read(cls, path: Path) -> ModelMetrics:
        return cls.from_dict(read_json(path), path)

    def value(self, metric: str) -> float | None:
        m = self.metrics.get(metric)
        return None if m is None else m.value

    @property
    def proxy_values(self) -> dict[str, float]:
        """The proxy's finite numbers (counts included); no proxy: empty."""
        return {k: float(v) for k, v in (self.proxy or {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}

    @property
    def steering(self) -> dict[str, Any] | None:
        """provenance "steering" of a steered model (source, layer, alpha, ...), else None."""
        steering = (self.provenance or {}).get("steering")
        return steering if isinstance(steering, dict) else None
