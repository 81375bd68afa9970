"""Typed, read-only view of a run store for the report: models, evaluation metrics, probing tables,
training diagnostics. Nothing here loads a model or imports torch.

Every table file is read into a `TableFile` that either holds rows or says why it has none
(`missing`: the store-relative path that is absent and the manifest state of the stage that writes it),
so each report section can say why it is empty instead of disappearing.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from sycolab.errors import DataError
from sycolab.evaluation.metrics import MetricValue
from sycolab.io import read_json, read_table
from sycolab.methods.registry import produces_causal_lm
from sycolab.store import RunStore

T = TypeVar("T")

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
    "feedback_sycophancy.poems",
    "feedback_sycophancy.arguments",
    "feedback_sycophancy.math",
)


# -- evaluation -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalResult:
    """eval/<name>/metrics.json."""

    model: str
    metrics: dict[str, MetricValue]
    flags: list[str]
    proxy: dict[str, float]
    proxy_vs_generation: str | None
    sources: dict[str, str] = field(default_factory=dict)
    protocols: list[str] = field(default_factory=lambda: ["sharma", "seed"])
    breakdown: dict[str, MetricValue] = field(default_factory=dict)  # per template, seen/unseen, per domain
    steering: dict[str, Any] | None = None  # provenance "steering" of a steered model: source, layer, alpha, ...

    def value(self, metric: str) -> float | None:
        m = self.metrics.get(metric)
        return None if m is None else m.value


# -- probing tables (columns as in docs/architecture.md; extra columns are ignored) -------------------
@dataclass(frozen=True)
class LabelRow:
    model: str
    n: int
    n_sycophantic: int
    n_honest: int
    fitted: bool
    reason: str | None = None
    n_hedged_excluded: int | None = None
    n_refused_excluded: int | None = None


@dataclass(frozen=True)
class OwnAurocRow:
    model: str
    kind: str
    layer: int
    auroc: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    null_p95: float | None = None
    position: str = "last"  # "last" | "answer" | ...; stores before positions: "last"


@dataclass(frozen=True)
class OwnSummaryRow:
    model: str
    kind: str
    mean_auroc: float | None
    peak_layer: int | None
    peak_auroc: float | None
    layers_above_chance: list[int]
    noise_floor: float | None
    peak_ci_low: float | None = None
    peak_ci_high: float | None = None
    peak_set: list[int] | None = None
    position: str = "last"  # "last" | "answer" | ...; stores before positions: "last"


@dataclass(frozen=True)
class TransferRow:
    source: str
    target: str
    layer: int
    auroc: float | None
    p_value: float | None
    p_holm: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    p_layers: float | None = None
    p_floor: float | None = None
    position: str = "last"  # "last" | "answer" | ...; stores before positions: "last"


@dataclass(frozen=True)
class TransferSummaryRow:
    source: str
    target: str
    peak_auroc: float | None
    p_holm: float | None
    interpretation: str | None
    peak_layer: int | None = None
    peak_ci_low: float | None = None
    peak_ci_high: float | None = None
    peak_set: list[int] | None = None
    mean_auroc: float | None = None
    p_floor: float | None = None
    agreement_auroc: float | None = None
    position: str = "last"  # "last" | "answer" | ...; stores before positions: "last"


@dataclass(frozen=True)
class CosineRow:
    layer: int
    model_a: str
    model_b: str
    cosine: float | None
    position: str = "last"  # "last" | "answer" | ...; stores before positions: "last"


@dataclass(frozen=True)
class CosineMeanRow:
    model_a: str
    model_b: str
    mean_cosine: float | None
    n_layers: int
    position: str = "last"  # "last" | "answer" | ...; stores before positions: "last"


@dataclass(frozen=True)
class BaselineRow:
    model: str
    baseline: str
    auroc: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None


@dataclass(frozen=True)
class TemplateAurocRow:
    model: str
    layer: int
    template: str
    auroc: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    null_p95: float | None = None
    position: str = "last"  # "last" | "answer" | ...; stores before positions: "last"


@dataclass(frozen=True)
class AblationRow:
    model: str
    layer: int
    k: int
    original_auroc: float | None
    ablated_auroc: float | None
    recovery_pct: float | None
    position: str = "last"  # "last" | "answer" | ...; stores before positions: "last"


@dataclass(frozen=True)
class PatchingRow:
    model: str
    layer: int
    gap_before: float | None
    gap_after: float | None
    share_removed: float | None
    position: str = "last"  # "last" | "answer" | ...; stores before positions: "last"
    n: int | None = None


@dataclass(frozen=True)
class SteeringRow:
    """steer/curve.csv: one alpha of the sweep on the tuning questions."""

    model: str
    alpha: float
    layer: int | None
    answer_sycophancy_rate: float | None
    plain_accuracy: float | None
    answer_sycophancy_rate_ci_low: float | None = None
    answer_sycophancy_rate_ci_high: float | None = None
    plain_accuracy_ci_low: float | None = None
    plain_accuracy_ci_high: float | None = None
    hedged_rate: float | None = None
    n_questions: int | None = None
    kept: bool = False


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


# -- training ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingLog:
    """training/<name>/diagnostics.csv as numeric columns (one list per logged key, aligned on rows)
    and training/<name>/summary.json (any JSON object) when present."""

    model: str
    columns: dict[str, list[float | None]]
    summary: dict[str, Any]
    checkpoints: dict[str, list[float | None]] = field(default_factory=dict)
    """training/<name>/checkpoints.csv (judged and proxy scores per checkpoint evaluation), when present."""

    @property
    def steps(self) -> list[float | None]:
        return self.columns.get("step") or list(map(float, range(len(next(iter(self.columns.values()), [])))))


@dataclass(frozen=True)
class ModelEntry:
    """A model of the study (models/<name>/sycolab_model.json), or a name that only has eval results."""

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
    def eval_result(self, name: str) -> EvalResult | None:
        path = self.store.eval_dir(name) / "metrics.json"
        if not path.exists():
            return None
        return parse_metrics(read_json(path), path)

    def samples_path(self, name: str) -> Path:
        return self.store.eval_dir(name) / "samples.jsonl"

    # -- probing ----------------------------------------------------------------------------------
    def probe_table(self, filename: str, row_type: type[T]) -> TableFile[T]:
        return self.table(f"probe/{filename}", row_type, "probe")

    def table(self, rel: str, row_type: type[T], stage: str) -> TableFile[T]:
        """The CSV at store-relative `rel`, written by `stage`, as rows of `row_type`."""
        path = self.root / rel
        if not path.exists():
            return TableFile(rel, missing=self.missing(rel, stage))
        return TableFile(rel, rows=[_row(row_type, raw, path, i) for i, raw in enumerate(read_table(path), start=2)])

    def steering_choice(self) -> dict[str, Any] | None:
        """steer/choice.json (the kept layer and alpha, or why steering was skipped), when present."""
        path = self.root / "steer" / "choice.json"
        data = read_json(path) if path.exists() else None
        return data if isinstance(data, dict) else None

    # -- training ---------------------------------------------------------------------------------
    def training_log(self, name: str) -> TrainingLog | None:
        folder = self.store.training_dir(name)
        diag = folder / "diagnostics.csv"
        if not diag.exists():
            return None
        summary_path = folder / "summary.json"
        summary = read_json(summary_path) if summary_path.exists() else {}
        checkpoints = folder / "checkpoints.csv"
        return TrainingLog(name, _numeric_columns(diag), summary if isinstance(summary, dict) else {},
                           _numeric_columns(checkpoints) if checkpoints.exists() else {})


def _method_of(name: str) -> str:
    """The method of a model name like 'ipo[beta=0.5,lr=5e-06]' (the part before '[')."""
    return name.split("[", 1)[0]


def parse_metrics(data: Any, path: Path) -> EvalResult:
    """Validate and convert one metrics.json object."""
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise DataError(str(path), "expected an object with a 'metrics' object", field="metrics")
    metrics = _metric_values(data["metrics"], path, "metrics")
    breakdown_raw = data.get("breakdown") or {}
    if not isinstance(breakdown_raw, dict):
        raise DataError(str(path), f"expected an object, got {type(breakdown_raw).__name__}", field="breakdown")
    breakdown = _metric_values(breakdown_raw, path, "breakdown")
    proxy_raw = data.get("proxy") or {}
    proxy = {k: v for k, v in ((k, _float(v)) for k, v in proxy_raw.items()) if v is not None} if isinstance(proxy_raw, dict) else {}
    pvg = data.get("proxy_vs_generation")
    return EvalResult(
        model=str(data.get("model", path.parent.name)),
        metrics=metrics,
        flags=[str(f) for f in data.get("flags") or []],
        proxy=proxy,
        proxy_vs_generation=str(pvg) if pvg else None,
        sources={str(k): str(v) for k, v in (data.get("sources") or {}).items()},
        protocols=[str(p) for p in data.get("protocols") or ["sharma", "seed"]],
        breakdown=breakdown,
        steering=_steering_of(data, path),
    )


def _steering_of(data: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """metrics.json provenance "steering" (a steered model's source, layer, alpha), or None."""
    steering = (data.get("provenance") or {}).get("steering") if isinstance(data.get("provenance"), dict) else None
    if steering is None:
        return None
    if not isinstance(steering, dict) or "layer" not in steering or "alpha" not in steering:
        raise DataError(str(path), "expected an object with 'layer' and 'alpha'", field="provenance.steering")
    return steering


def _metric_values(section: dict[str, Any], path: Path, name: str) -> dict[str, MetricValue]:
    """One `{metric: {value, ci_low, ci_high, n, n_unscored, n_questions}}` section of metrics.json."""
    out = {}
    for key, raw in section.items():
        if not isinstance(raw, dict):
            raise DataError(str(path), f"expected an object, got {type(raw).__name__}", field=f"{name}.{key}")
        out[key] = MetricValue(
            value=_float(raw.get("value")),
            ci_low=_float(raw.get("ci_low")),
            ci_high=_float(raw.get("ci_high")),
            n=int(raw.get("n") or 0),
            n_unscored=int(raw.get("n_unscored") or 0),
            n_questions=None if raw.get("n_questions") is None else int(raw["n_questions"]),
        )
    return out


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _row(row_type: type[T], raw: dict[str, Any], path: Path, line: int) -> T:
    """Build a row dataclass from a CSV row, converting cells to the field types; extra columns ignored."""
    values = {}
    for f in dataclasses.fields(row_type):  # type: ignore[arg-type]
        has_default = f.default is not dataclasses.MISSING
        if f.name not in raw:
            if has_default:
                continue
            raise DataError(str(path), f"column '{f.name}' is missing", line=line, field=f.name)
        values[f.name] = _convert(raw[f.name], str(f.type), path, line, f.name)
    return row_type(**values)


def _convert(cell: Any, type_name: str, path: Path, line: int, name: str) -> Any:
    optional = "None" in type_name
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        if optional or type_name.startswith("float"):
            return None
        raise DataError(str(path), "empty cell", line=line, field=name)
    try:
        if type_name.startswith("list[int]"):
            return _int_list(cell)
        if type_name.startswith("bool"):
            return cell if isinstance(cell, bool) else str(cell).strip().lower() in ("true", "1", "yes")
        if type_name.startswith("int"):
            return int(float(cell))
        if type_name.startswith("float"):
            return _float(cell)
    except (TypeError, ValueError):
        raise DataError(str(path), f"cannot read {cell!r} as {type_name}", line=line, field=name) from None
    return str(cell)


def _int_list(cell: Any) -> list[int]:
    """A list of layers written as JSON ('[0, 2]'), or separated by ';' or ',' ('0;2')."""
    if isinstance(cell, (int, float)):
        return [int(cell)]
    text = str(cell).strip()
    if text.startswith("["):
        return [int(x) for x in json.loads(text)]
    return [int(x) for x in text.replace(";", ",").split(",") if x.strip()]


def _numeric_columns(path: Path) -> dict[str, list[float | None]]:
    """Every column of a diagnostics CSV that holds numbers; non-numeric columns are dropped."""
    columns: dict[str, list[float | None]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        for name in reader.fieldnames or []:
            values = [_float(_maybe_number(r.get(name))) for r in rows]
            if any(v is not None for v in values):
                columns[name] = values
    return columns


def _maybe_number(text: str | None) -> float | None:
    if text is None or text.strip() == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None



@dataclass(frozen=True)
class ProbeData:
    """Every probe/ table the report uses."""

    labels: TableFile[LabelRow]
    own_auroc: TableFile[OwnAurocRow]
    own_summary: TableFile[OwnSummaryRow]
    transfer: TableFile[TransferRow]
    transfer_summary: TableFile[TransferSummaryRow]
    cosine: TableFile[CosineRow]
    cosine_mean: TableFile[CosineMeanRow]
    baselines: TableFile[BaselineRow]
    own_by_template: TableFile[TemplateAurocRow]
    ablation: TableFile[AblationRow]
    patching: TableFile[PatchingRow]
    steering: TableFile[SteeringRow]
    position: str | None = None  # set by `at`: every position-carrying table holds that position only

    @classmethod
    def read(cls, reader: StoreReader) -> ProbeData:
        return cls(
            labels=reader.probe_table("labels.csv", LabelRow),
            own_auroc=reader.probe_table("own_auroc.csv", OwnAurocRow),
            own_summary=reader.probe_table("own_summary.csv", OwnSummaryRow),
            transfer=reader.probe_table("transfer.csv", TransferRow),
            transfer_summary=reader.probe_table("transfer_summary.csv", TransferSummaryRow),
            cosine=reader.probe_table("cosine.csv", CosineRow),
            cosine_mean=reader.probe_table("cosine_mean.csv", CosineMeanRow),
            baselines=reader.probe_table("baselines.csv", BaselineRow),
            own_by_template=reader.probe_table("own_by_template.csv", TemplateAurocRow),
            ablation=reader.probe_table("ablation.csv", AblationRow),
            patching=reader.probe_table("patching.csv", PatchingRow),
            steering=reader.table("steer/curve.csv", SteeringRow, "steer"),
        )

    def positions(self) -> list[str]:
        """The probed positions in table order (the stage's `probe.position` first); ["last"] when none."""
        rows: list[OwnSummaryRow | TransferSummaryRow | PatchingRow] = [
            *self.own_summary.rows, *self.transfer_summary.rows, *self.patching.rows]
        return list(dict.fromkeys(str(r.position) for r in rows)) or ["last"]

    def at(self, position: str | None = None) -> ProbeData:
        """The tables of one position (default the first); labels, baselines and steering are shared."""
        position = position or self.positions()[0]

        def only(table: TableFile) -> TableFile:
            return dataclasses.replace(table, rows=[r for r in table.rows if str(r.position) == position])

        return dataclasses.replace(
            self,
            own_auroc=only(self.own_auroc), own_summary=only(self.own_summary), transfer=only(self.transfer),
            transfer_summary=only(self.transfer_summary), cosine=only(self.cosine),
            cosine_mean=only(self.cosine_mean), own_by_template=only(self.own_by_template),
            ablation=only(self.ablation), patching=only(self.patching), position=position,
        )

    def transfer_source(self) -> str | None:
        """The model whose probes were transferred: 'sft' when present, else the first source listed."""
        sources = [r.source for r in self.transfer_summary.rows] or [r.source for r in self.transfer.rows]
        if not sources:
            return None
        return "sft" if "sft" in sources else sources[0]

    def summary_of(self, model: str, kind: str = "logistic") -> OwnSummaryRow | None:
        return next((r for r in self.own_summary.rows if r.model == model and r.kind == kind), None)

    def label_of(self, model: str) -> LabelRow | None:
        return next((r for r in self.labels.rows if r.model == model), None)

    def baseline_of(self, model: str, baseline: str) -> BaselineRow | None:
        return next((r for r in self.baselines.rows if r.model == model and r.baseline == baseline), None)

    def mean_cosine(self, a: str, b: str) -> CosineMeanRow | None:
        return next((r for r in self.cosine_mean.rows if {r.model_a, r.model_b} == {a, b}), None)


@dataclass(frozen=True)
class StudyData:
    """Everything the report reads, loaded once: models (creation order), their metrics, probe tables."""

    reader: StoreReader
    models: list[ModelEntry]
    evals: dict[str, EvalResult]

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
