"""The report's "Provenance" section: which judge, generation settings, data files (sha256 prefix) and
weights each evaluation used, read from the "provenance" entry of eval/<name>/metrics.json."""

from __future__ import annotations

from sycolab.reporting._format import DASH
from sycolab.reporting._results import StudyData
from sycolab.reporting.document import Cell, Column, NoData, Table
from sycolab.store import Provenance

SHA_PREFIX = 12


def provenance_table(data: StudyData) -> Table | NoData:
    """One row per evaluated model: judge, generation settings, data files with their sha256 prefixes,
    weights digest prefix and the stage key that made the weights."""
    rows = []
    for model in data.models:
        result = data.evals.get(model.name)
        raw = result.provenance if result is not None else None
        if not raw:
            continue
        prov = Provenance.from_dict(raw)
        judge = prov.judge
        rows.append([
            Cell(model.name),
            Cell(" ".join(str(v) for v in (judge.get("kind"), judge.get("model"), judge.get("endpoint")) if v)),
            Cell(", ".join(f"{k}={v}" for k, v in prov.generation.items())),
            Cell("; ".join(f"{d.path} {d.sha256[:SHA_PREFIX]}" for d in prov.data) or DASH),
            Cell((prov.weights_sha256 or DASH)[:SHA_PREFIX], detail=f"stage key {prov.stage_key or DASH}"),
        ])
    if not rows:
        return NoData("provenance", "no eval/<name>/metrics.json records its provenance (written by this version "
                      "of `sycolab eval`; re-run the eval stage)")
    columns = [Column("model", "model"), Column("judge", "judge"), Column("generation", "generation"),
               Column("data", "data files (sha256)"), Column("weights", "weights (sha256)")]
    return Table("provenance", columns, rows, caption="What each evaluation read: judge, generation settings, "
                 "data files and weights, by content hash.")
