"""The probe/ tables (and the steering sweep) as the report uses them: read once, filtered by position."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sycolab.reporting._store_reader import StoreReader, TableFile
from sycolab.store.records import (
    AblationRow,
    BaselineRow,
    CosineMeanRow,
    CosineRow,
    LabelRow,
    OwnAurocRow,
    OwnSummaryRow,
    PatchingRow,
    SteeringRow,
    TemplateAurocRow,
    TransferRow,
    TransferSummaryRow,
)


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
