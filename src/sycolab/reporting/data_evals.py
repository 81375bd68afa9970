"""Evaluations on other data (`sycolab eval --data FILE...`, stored in eval/<model>/data-<hash>/): the
table `sycolab eval` prints for what it evaluated and the report's "Other evaluation sets" section.

Each row is one (model, data set) result with its provenance (data files with sha256 prefixes, judge,
generation settings) and the headline metrics of each protocol it stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sycolab.evaluation.metrics import SEED, SHARMA
from sycolab.reporting._format import DASH, metric_cell
from sycolab.reporting.document import Cell, Column, NoData, Table
from sycolab.reporting.provenance import SHA_PREFIX
from sycolab.reporting.tables import BEHAVIOUR_LABELS
from sycolab.store import DATA_EVAL_PREFIX, Provenance, RunStore, display_path
from sycolab.store.records import ModelMetrics

HEADLINE = {
    SHARMA: ("aggregate_sycophancy", "answer_sycophancy_rate", "plain_accuracy", "flip_rate", "feedback_sycophancy"),
    SEED: ("seed.aggregate_sycophancy", "seed.answer_sycophancy_rate", "seed.flip_rate", "seed.feedback_sycophancy"),
}
"""The metrics shown per protocol (all of them stay in each metrics.json)."""
TERMINAL_DATA_EVAL = ["model", "data", "judge", *HEADLINE[SHARMA], *HEADLINE[SEED]]
"""Columns `sycolab eval --data` prints (the generation settings stay in the report)."""


@dataclass(frozen=True)
class DataEvaluation:
    """One eval/<model>/data-<hash>/metrics.json: the model, the folder (run-dir relative), its metrics
    and provenance (None when written before provenance was recorded)."""

    model: str
    folder: str
    result: ModelMetrics
    provenance: Provenance | None


def read_data_evaluations(run_dir: Path, folders: list[Path] | None = None) -> list[DataEvaluation]:
    """The `--data` evaluations in `folders` (default: every eval/<model>/data-*/ with a metrics.json),
    ordered by model then folder."""
    root = Path(run_dir)
    if folders is None:
        eval_root = RunStore(root).root / "eval"
        folders = sorted(eval_root.glob(f"*/{DATA_EVAL_PREFIX}*")) if eval_root.is_dir() else []
    out = []
    for folder in folders:
        path = folder / "metrics.json"
        if not path.exists():
            continue
        result = ModelMetrics.read(path)
        out.append(DataEvaluation(folder.parent.name, display_path(folder, root), result,
                                  Provenance.from_dict(result.provenance) if result.provenance else None))
    return out


def data_evaluation_table(evaluations: list[DataEvaluation]) -> Table | NoData:
    """One row per (model, data set): data file names with sha256 prefixes (full paths as the cell's
    detail), judge, generation settings, then the
    headline metrics of the protocols the evaluations stored; notes carry each evaluation's flags."""
    if not evaluations:
        return NoData("other evaluation sets",
                      "no eval/<model>/data-*/metrics.json (run `sycolab eval RUN --data FILE...`)")
    protocols: list[str] = []
    for e in evaluations:
        protocols += [p for p in e.result.protocols if p in HEADLINE and p not in protocols]
    shown = [k for p in protocols for k in HEADLINE[p]]
    columns = [Column("model", "model"), Column("data", "data files (sha256)"), Column("judge", "judge"),
               Column("generation", "generation")] + [Column(k, BEHAVIOUR_LABELS[k]) for k in shown]
    rows, notes = [], []
    for e in evaluations:
        prov = e.provenance
        if prov is None:
            described = [Cell(DASH, "no provenance recorded")] * 3
        else:
            judge = prov.judge
            described = [
                Cell("; ".join(f"{Path(d.path).name} {d.sha256[:SHA_PREFIX]}" for d in prov.data) or DASH,
                     "; ".join(d.path for d in prov.data)),
                Cell(" ".join(str(judge[k]) for k in ("kind", "model", "endpoint") if judge.get(k)) or DASH),
                Cell(", ".join(f"{k}={v}" for k, v in prov.generation.items()) or DASH),
            ]
        rows.append([Cell(e.model, e.folder)] + described + [metric_cell(e.result.metrics.get(k)) for k in shown])
        notes += [f"{e.model} ({e.folder}): {flag}" for flag in e.result.flags]
    return Table("data_evaluations", columns, rows, notes=notes, caption=(
        "Evaluations on data given to `sycolab eval --data`, each with the files (by content hash), judge and "
        "generation settings it used; rates with 95% bootstrap intervals, n counts scored samples."))
