"""The report's "Provenance" section: which judge, generation settings, data files (sha256 prefix) and
weights each evaluation used, read from the "provenance" entry of eval/<name>/metrics.json, and the torch
thread counts the stages that trained and evaluated each model recorded (manifest.json), and when its stages
were computed by more than one version of sycolab's code, which."""

from __future__ import annotations

from sycolab.reporting._format import DASH
from sycolab.reporting._results import StudyData
from sycolab.reporting.document import Cell, Column, NoData, Table
from sycolab.store import Provenance, code_versions

SHA_PREFIX = 12


def provenance_table(data: StudyData) -> Table | NoData:
    """One row per evaluated model: judge, generation settings, data files with their sha256 prefixes,
    weights digest prefix and the stage key that made the weights, and the torch thread counts of the stage
    that made the weights (found by that key) and of the model's eval stage. A trained model's floats depend
    on the count, so a run dir resumed at another count says so in the caption."""
    stages = data.reader.manifest.get("stages", {})
    threads_by_key = {e.get("key"): t for e in stages.values() if (t := _threads(e)) is not None}
    counts: list[int | None] = []
    rows = []
    for model in data.models:
        result = data.evals.get(model.name)
        raw = result.provenance if result is not None else None
        if not raw:
            continue
        prov = Provenance.from_dict(raw)
        judge = prov.judge
        train, evaluate = threads_by_key.get(prov.stage_key), _threads(stages.get(f"eval:{model.name}", {}))
        counts += [train, evaluate]
        rows.append([
            Cell(model.name),
            Cell(" ".join(str(v) for v in (judge.get("kind"), judge.get("model"), judge.get("endpoint")) if v)),
            Cell(", ".join(f"{k}={v}" for k, v in prov.generation.items())),
            Cell("; ".join(f"{d.path} {d.sha256[:SHA_PREFIX]}" for d in prov.data) or DASH),
            Cell((prov.weights_sha256 or DASH)[:SHA_PREFIX], detail=f"stage key {prov.stage_key or DASH}"),
            _threads_cell(train, evaluate),
        ])
    if not rows:
        return NoData("provenance", "no eval/<name>/metrics.json records its provenance (written by this version "
                      "of `sycolab eval`; re-run the eval stage)")
    columns = [Column("model", "model"), Column("judge", "judge"), Column("generation", "generation"),
               Column("data", "data files (sha256)"), Column("weights", "weights (sha256)"),
               Column("threads", "torch threads (train, eval)")]
    caption = ("What each evaluation read: judge, generation settings, data files and weights, by content hash, "
               "and the torch thread counts the training and evaluation stages ran with.")
    seen = {c for c in counts if c is not None}
    if len(seen) > 1:
        caption += (f" These stages ran at different thread counts ({', '.join(map(str, sorted(seen)))}): a "
                    "trained model's floats depend on the count, so this run mixes numerics.")
    codes = code_versions(stages)
    if len(codes) > 1:
        caption += (f" Its stages were computed by {len(codes)} versions of sycolab's code ({'; '.join(codes)}): "
                    "a run resumed across code changes keeps what the older code made.")
    return Table("provenance", columns, rows, caption=caption)


def _threads(entry: dict) -> int | None:
    """The torch thread count a manifest stage entry recorded (`info.torch_threads`), if any."""
    info = entry.get("info") if isinstance(entry, dict) else None
    threads = info.get("torch_threads") if isinstance(info, dict) else None
    return int(threads) if isinstance(threads, int) else None


def _threads_cell(train: int | None, evaluate: int | None) -> Cell:
    return Cell(f"{train if train is not None else DASH}, {evaluate if evaluate is not None else DASH}")
