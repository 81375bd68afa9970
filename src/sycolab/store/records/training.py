"""Record type of a model's training files (docs/architecture.md "Run store layout"):
`training/<name>/diagnostics.csv` (one row per logging step: `step`, every key the trainer logs,
`wall_time_s`; written by `sycolab.methods._diagnostics`), `summary.json` (any object) and, with checkpoint
evaluations, `checkpoints.csv` (`step`, judged.* and proxy.* scores, seconds, kept). The logged keys differ
by trainer, so the record holds every numeric column by name; `step` is the column every version writes.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sycolab.errors import DataError
from sycolab.io import read_json, read_text, write_table

STEP: Final = "step"


@dataclass(frozen=True)
class TrainingLog:
    """One model's training record: diagnostics.csv as numeric columns (one list per logged key, aligned on
    rows; non-numeric columns dropped), summary.json, and checkpoints.csv's numeric columns (empty when the
    model had no checkpoint evaluations)."""

    model: str
    columns: dict[str, list[float | None]]
    summary: dict[str, Any]
    checkpoints: dict[str, list[float | None]] = field(default_factory=dict)

    @property
    def steps(self) -> list[float | None]:
        return self.columns.get(STEP) or list(map(float, range(len(next(iter(self.columns.values()), [])))))

    @property
    def rows(self) -> list[dict[str, float | None]]:
        """diagnostics.csv as one {column: value} per logged row (None where the row has no number)."""
        n = max((len(values) for values in self.columns.values()), default=0)
        return [{key: values[i] for key, values in self.columns.items()} for i in range(n)]

    @classmethod
    def read(cls, folder: Path, model: str) -> TrainingLog | None:
        """The record of `folder` (training/<model>/), or None when it has no diagnostics.csv."""
        diagnostics = folder / "diagnostics.csv"
        if not diagnostics.exists():
            return None
        summary_path, checkpoints = folder / "summary.json", folder / "checkpoints.csv"
        summary = read_json(summary_path) if summary_path.exists() else {}
        if not isinstance(summary, dict):
            raise DataError(str(summary_path), f"expected an object, got {type(summary).__name__}")
        return cls(model, numeric_columns(diagnostics), summary,
                   numeric_columns(checkpoints) if checkpoints.exists() else {})


def write_training_table(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write diagnostics.csv or checkpoints.csv: every row carries `step`, the column `TrainingLog` reads
    first (a row without it is a programming error, refused before anything is written)."""
    missing = [i for i, row in enumerate(rows) if STEP not in row]
    if missing:
        raise ValueError(f"{path.name}: rows {missing[:5]} have no {STEP!r} column")
    return write_table(path, rows)


def numeric_columns(path: Path) -> dict[str, list[float | None]]:
    """Every column of a training table that holds numbers (an empty or non-numeric cell is None, a column
    with no number is dropped). The table must have a `step` column."""
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    rows = list(reader)
    header = list(reader.fieldnames or [])
    if STEP not in header:
        raise DataError(str(path), "column missing (every training table starts with the logging step; was it "
                                   "written by another sycolab version?)", line=1, field=STEP)
    columns: dict[str, list[float | None]] = {}
    for name in header:
        values = [_number(r.get(name)) for r in rows]
        if any(v is not None for v in values):
            columns[name] = values
    return columns


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None and text.strip() else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
