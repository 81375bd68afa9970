"""The report's inputs, loaded once (`StudyData`): models, their metrics.json, the probe tables. Each
stored file is read as its record type (`sycolab.store.records`); this module and `_store_reader`,
`_probe_data` only find and filter them. Nothing here loads a model or imports torch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from sycolab.reporting._probe_data import ProbeData
from sycolab.reporting._store_reader import ModelEntry, StoreReader, TableFile
from sycolab.store.records import MetricValue, ModelMetrics
from sycolab.store.records.training import TrainingLog

__all__ = [
    "BEHAVIOUR_METRICS",
    "MetricValue",
    "ModelEntry",
    "ProbeData",
    "StoreReader",
    "StudyData",
    "TableFile",
    "TrainingLog",
]

BEHAVIOUR_METRICS = (
    "aggregate_sycophancy",
    "answer_sycophancy_rate",
    "answer_sycophancy_gap",
    "plain_accuracy",
    "flip_rate",
    "stubbornness",
    "correction_rate",
    "hedged_rate",
    "feedback_sycophancy",
    "feedback_rating_shift",
    "feedback_sycophancy.poems",
    "feedback_sycophancy.arguments",
    "feedback_sycophancy.math",
)


@dataclass(frozen=True)
class StudyData:
    """Everything the report reads, loaded once: models (creation order), their metrics, probe tables."""

    reader: StoreReader
    models: list[ModelEntry]
    evals: dict[str, ModelMetrics]

    @classmethod
    def read(cls, run_dir: Path) -> StudyData:
        """Models, metrics and probe tables, each read and checked now (a malformed table fails here)."""
        data = cls.read_behaviour(run_dir)
        _ = data.probe
        return data

    @classmethod
    def read_behaviour(cls, run_dir: Path) -> StudyData:
        """Models and metrics; the probe tables only when `probe` is first used (`sycolab eval`'s
        behaviour table needs none of them)."""
        reader = StoreReader(run_dir)
        models = reader.models()
        evals = {m.name: e for m in models if (e := reader.eval_result(m.name)) is not None}
        return cls(reader, models, evals)

    @functools.cached_property
    def probe(self) -> ProbeData:
        return ProbeData.read(self.reader)

    @property
    def causal_models(self) -> list[ModelEntry]:
        return [m for m in self.models if m.causal_lm]
