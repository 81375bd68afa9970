"""The probe/ tables (and the steering sweep) as the report uses them: read once, filtered by position."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sycolab.reporting._store_reader import StoreReader, TableFile
from sycolab.store import records


@dataclass(frozen=True)
class ProbeData:
    """Every probe/ table the report uses."""

    labels: TableFile[records.LabelRow]
    own_auroc: TableFile[records.OwnAurocRow]
    own_summary: TableFile[records.OwnSummaryRow]
    transfer: TableFile[records.TransferRow]
    transfer_summary: TableFile[records.TransferSummaryRow]
    cosine: TableFile[records.CosineRow]
    cosine_mean: TableFile[records.CosineMeanRow]
    baselines: TableFile[records.BaselineRow]
    own_by_template: TableFile[records.TemplateAurocRow]
    ablation: TableFile[records.AblationRow]
    patching: TableFile[records.PatchingRow]
    steering: TableFile[records.SteeringRow]
    position: str | None = None  # set by `at`: every position-carrying table holds that position only

    @classmethod
    def read(cls, reader: StoreReader) -> ProbeData:
        """Each probe/<name>.csv as its record type in `records.PROBE_TABLES`, and the steering sweep."""
        names = [field.name for field in dataclasses.fields(cls) if field.name in records.PROBE_TABLES]
        tables: dict[str, Any] = {name: reader.probe_table(f"{name}.csv", records.PROBE_TABLES[name]) for name in names}
        return cls(**tables, steering=reader.table("steer/curve.csv", records.SteeringRow, "steer"))

    def positions(self) -> list[str]:
        """The probed positions in table order (the stage's `probe.position` first); ["last"] when none."""
        rows: list[records.OwnSummaryRow | records.TransferSummaryRow | records.PatchingRow] = [
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

    def summary_of(self, model: str, kind: str = "logistic") -> records.OwnSummaryRow | None:
        return next((r for r in self.own_summary.rows if r.model == model and r.kind == kind), None)

    def label_of(self, model: str) -> records.LabelRow | None:
        return next((r for r in self.labels.rows if r.model == model), None)

    def baseline_of(self, model: str, baseline: str) -> records.BaselineRow | None:
        return next((r for r in self.baselines.rows if r.model == model and r.baseline == baseline), None)

    def mean_cosine(self, a: str, b: str) -> records.CosineMeanRow | None:
        return next((r for r in self.cosine_mean.rows if {r.model_a, r.model_b} == {a, b}), None)
