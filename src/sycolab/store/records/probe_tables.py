"""Record types of the probing tables (`probe/*.csv`, docs/architecture.md "Probing tables") and of the
steering sweep (`steer/curve.csv`): one dataclass per table, its fields the table's columns in the order
they are written. The probing stage writes them (`sycolab.probing.runner`), the steer stage writes the
curve (`sycolab.study.steer`), and the report reads them back (`sycolab.reporting`) through
`store.records.read_rows`. A float column is None where the statistic is undefined (written empty).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class LabelRow:
    """probe/labels.csv: one model's probe labels (hedged and refused replies left out), or why it has none."""

    model: str
    n: int
    n_sycophantic: int
    n_honest: int
    n_hedged_excluded: int | None = None
    n_refused_excluded: int | None = None
    fitted: bool
    reason: str | None = None
    n_unscored: int | None = None


@dataclass(frozen=True, kw_only=True)
class OwnAurocRow:
    """probe/own_auroc.csv: a model's own probe at one layer (out-of-fold AUROC, interval, null, p)."""

    model: str
    position: str
    kind: str
    layer: int
    auroc: float | None
    ci_low: float | None
    ci_high: float | None
    null_p95: float | None
    p_value: float | None


@dataclass(frozen=True, kw_only=True)
class OwnSummaryRow:
    """probe/own_summary.csv: a model's probe over its layers (peak, peak set, layers above chance)."""

    model: str
    position: str
    kind: str
    mean_auroc: float | None
    peak_layer: int | None
    peak_auroc: float | None
    peak_ci_low: float | None
    peak_ci_high: float | None
    peak_set: list[int]
    layers_above_chance: list[int]
    noise_floor: float | None
    dropped_layers: list[int]


@dataclass(frozen=True, kw_only=True)
class TemplateAurocRow:
    """probe/own_by_template.csv: the logistic probe within one template at one layer."""

    model: str
    position: str
    layer: int
    template: str
    n: int
    auroc: float | None
    ci_low: float | None
    ci_high: float | None
    null_p95: float | None


@dataclass(frozen=True, kw_only=True)
class BaselineRow:
    """probe/baselines.csv: a shortcut baseline's AUROC on a model's labels (the same at every position)."""

    model: str
    baseline: str
    auroc: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None


@dataclass(frozen=True, kw_only=True)
class TransferRow:
    """probe/transfer.csv: the source's probe scored on a target model at one layer."""

    source: str
    target: str
    position: str
    layer: int
    auroc: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_layers: float | None
    p_holm: float | None
    p_floor: float | None


@dataclass(frozen=True, kw_only=True)
class TransferSummaryRow:
    """probe/transfer_summary.csv: one source -> target transfer over layers, with its interpretation."""

    source: str
    target: str
    position: str
    peak_layer: int | None
    peak_auroc: float | None
    peak_ci_low: float | None
    peak_ci_high: float | None
    peak_set: list[int]
    mean_auroc: float | None
    p_holm: float | None
    p_floor: float | None
    agreement_auroc: float | None
    interpretation: str | None


@dataclass(frozen=True, kw_only=True)
class CosineRow:
    """probe/cosine.csv: cosine of two models' probe directions at one layer."""

    position: str
    layer: int
    model_a: str
    model_b: str
    cosine: float | None


@dataclass(frozen=True, kw_only=True)
class CosineMeanRow:
    """probe/cosine_mean.csv: that cosine averaged over the layers both models have."""

    position: str
    model_a: str
    model_b: str
    mean_cosine: float | None
    n_layers: int


@dataclass(frozen=True, kw_only=True)
class AblationRow:
    """probe/ablation.csv: the probe's AUROC after removing its top-k directions at the peak layer."""

    model: str
    position: str
    layer: int
    k: int
    original_auroc: float | None
    ablated_auroc: float | None
    recovery_pct: float | None


@dataclass(frozen=True, kw_only=True)
class PatchingRow:
    """probe/patching.csv: the logit gap before and after patching neutral activations in at one layer."""

    model: str
    position: str
    layer: int
    gap_before: float | None
    gap_after: float | None
    share_removed: float | None
    n: int | None = None


@dataclass(frozen=True, kw_only=True)
class InterventionRow:
    """probe/intervention.csv: answer sycophancy of the source model with its probe direction removed or
    added (alpha: fraction of the median residual norm; empty for removal)."""

    model: str
    layer: int
    mode: str
    alpha: float | None
    answer_sycophancy_rate_before: float | None
    answer_sycophancy_rate_after: float | None
    change: float | None


@dataclass(frozen=True, kw_only=True)
class SteeringRow:
    """steer/curve.csv: one alpha of the steering sweep on the tuning questions (kept: the chosen alpha)."""

    model: str
    layer: int
    alpha: float
    answer_sycophancy_rate: float | None
    answer_sycophancy_rate_ci_low: float | None = None
    answer_sycophancy_rate_ci_high: float | None = None
    plain_accuracy: float | None
    plain_accuracy_ci_low: float | None = None
    plain_accuracy_ci_high: float | None = None
    hedged_rate: float | None = None
    n_questions: int | None = None
    kept: bool


#: probe/<name>.csv -> its record type, in the order the probing stage writes them.
PROBE_TABLES: dict[str, type] = {
    "labels": LabelRow,
    "own_auroc": OwnAurocRow,
    "own_summary": OwnSummaryRow,
    "own_by_template": TemplateAurocRow,
    "baselines": BaselineRow,
    "transfer": TransferRow,
    "transfer_summary": TransferSummaryRow,
    "cosine": CosineRow,
    "cosine_mean": CosineMeanRow,
    "ablation": AblationRow,
    "patching": PatchingRow,
    "intervention": InterventionRow,
}
