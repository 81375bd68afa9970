"""Read-only access to a run store for the report: models, metrics.json, tables and training records,
each read as its record type (`sycolab.store.records`). Nothing here loads a model or imports torch.

Every table file is read into a `TableFile` that either holds rows or says why it has none
(`missing`: the store-relative path that is absent and the manifest state of the stage that writes it),
so each report section can say why it is empty instead of disappearing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from sycolab.io import read_json
from sycolab.methods.registry import produces_causal_lm
from sycolab.store import RunStore
from sycolab.store.records import ModelMetrics, read_rows
from sycolab.store.records.training import TrainingLog

T = TypeVar("T")


@dataclass(frozen=True)
class TableFile(Generic[T]):
    """A store table: its rows, or the reason it has none (`missing`)."""

    rel_path: str
    rows: list[T] = field(default_factory=list)
    missing: str | None = None

    @property
    def ok(self) -> bool:
        return self.missing is None and bool(self.rows)

    def why_empty(self) -> str:
        return self.missing or f"{self.rel_path} has no rows"


@dataclass(frozen=True)
class ModelEntry:
    """A model of the report: a stored model (its `sycolab_model.json` record: `sycolab.store.records.models.ModelRecord`)
    or a name that only has eval results (a steered model)."""

    name: str
    method: str
    parent: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    created: str = ""

    @property
    def causal_lm(self) -> bool:
        return produces_causal_lm(self.method)


class StoreReader:
    """Reads the report's inputs from a run dir; every path it names in messages is store-relative."""

    def __init__(self, run_dir: Path):
        self.root = Path(run_dir)
        self.store = RunStore(self.root)
        self._manifest: dict[str, Any] | None = None

    # -- manifest ---------------------------------------------------------------------------------
    @property
    def manifest(self) -> dict[str, Any]:
        if self._manifest is None:
            self._manifest = self.store.read_manifest() if self.store.exists() else {"stages": {}}
        return self._manifest

    def stage_state(self, stage: str) -> str:
        """'done', 'failed: <error>', 'running' ... from the manifest, or 'has not run'."""
        entry = self.manifest.get("stages", {}).get(stage)
        if not entry:
            return "has not run"
        status = str(entry.get("status", "unknown"))
        error = entry.get("error")
        return f"{status}: {error}" if error and status == "failed" else status

    def missing(self, rel_path: str, stage: str) -> str:
        """'<path> not found (stage <stage> <state>)'."""
        return f"{rel_path} not found (stage {stage} {self.stage_state(stage)})"

    # -- models -----------------------------------------------------------------------------------
    def models(self) -> list[ModelEntry]:
        """Stored models in creation order, then names that have only eval results (alphabetical)."""
        entries = [
            ModelEntry(r.name, r.method, r.parent, dict(r.params), r.created)
            for r in self.store.list_models()
        ]
        known = {e.name for e in entries}
        eval_root = self.root / "eval"
        if eval_root.is_dir():
            extra = sorted(d.name for d in eval_root.iterdir() if (d / "metrics.json").exists() and d.name not in known)
            entries += [self._eval_only_entry(name) for name in extra]
        return entries

    def _eval_only_entry(self, name: str) -> ModelEntry:
        """A model with results but no folder: a steered model (its metrics.json provenance says so:
        method "steer", its source as parent, layer and alpha as params), else the method of its name."""
        result = self.eval_result(name)
        if result is not None and result.steering:
            return ModelEntry(name, "steer", str(result.steering.get("source")), dict(result.steering))
        return ModelEntry(name, method=_method_of(name))

    # -- evaluation -------------------------------------------------------------------------------
    def eval_result(self, name: str) -> ModelMetrics | None:
        path = self.store.eval_dir(name) / "metrics.json"
        return ModelMetrics.read(path) if path.exists() else None

    def samples_path(self, name: str) -> Path:
        return self.store.eval_dir(name) / "samples.jsonl"

    # -- tables -----------------------------------------------------------------------------------
    def probe_table(self, filename: str, row_type: type[T]) -> TableFile[T]:
        return self.table(f"probe/{filename}", row_type, "probe")

    def table(self, rel: str, row_type: type[T], stage: str) -> TableFile[T]:
        """The CSV at store-relative `rel`, written by `stage`, as rows of its record type `row_type`."""
        path = self.root / rel
        if not path.exists():
            return TableFile(rel, missing=self.missing(rel, stage))
        return TableFile(rel, rows=read_rows(path, row_type))

    def steering_choice(self) -> dict[str, Any] | None:
        """steer/choice.json (the kept layer and alpha, or why steering was skipped), when present."""
        path = self.root / "steer" / "choice.json"
        data = read_json(path) if path.exists() else None
        return data if isinstance(data, dict) else None

    # -- training ---------------------------------------------------------------------------------
    def training_log(self, name: str) -> TrainingLog | None:
        return TrainingLog.read(self.store.training_dir(name), name)


def _method_of(name: str) -> str:
    """The method of a model name like 'ipo[beta=0.5,lr=5e-06]' (the part before '[')."""
    return name.split("[", 1)[0]
