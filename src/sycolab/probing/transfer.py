"""Probe transfer: does the source model's sycophancy probe still read another model's behaviour?

Cross-fitted scoring (never a probe on the questions it was fit on): questions are split into the
`cv_folds` groups shared by every model (`probes.question_folds`); the source's logistic probe fit on the
source's samples of the other groups (its own cross-validation fold probe, scaler included, no retraining)
scores the target's samples of each group. The transfer AUROC of a layer is that of the pooled
out-of-fold scores against the target's own labels, with a 95% cluster-bootstrap interval over questions
(`intervals`). Same-question scoring would let question-level agreement between the two models' labels
(both fail on the facts neither knows) pass for a shared representation.

Test, per target, family-wise over its layers (Westfall & Young 1993, single-step max-T): the out-of-fold
scores are fixed and do not depend on the target's labels, so permuting the target's labels is a valid
test of "the scores do not track the target's behaviour". The target's labels are permuted `n_permutations`
times, question blocks preserved (`stats.block_permutations`: the permutation also breaks the labels' tie to
the template, so a probe that reads only the template can pass; the template-only baseline beside it in
the report says how far that goes); under each permutation the AUROC of every
layer is computed (one matrix product) and its maximum over layers kept. `p_layers` of a layer is the share
of permutations whose maximum reaches the layer's AUROC (floor 1/(n+1), whatever the number of layers);
`p_value` is the unadjusted per-layer permutation p. Across the k targets, Holm (1979) on the targets'
smallest `p_layers`: `p_holm` of a layer is its target's Holm-adjusted p with the layer's own `p_layers` in
place of the target's minimum (so the peak layer carries the target's Holm p). Floor: k/(n+1), stored as
`p_floor`. With 12 targets x 37 layers and 1,000 permutations it is 12/1001 = 0.012; Holm over all 444
(target, layer) tests could not go below 444/1001 = 0.44.

Interpretation per target, at the layer of peak transfer AUROC, with its `p_holm`:
- "preserved": peak AUROC >= 0.70 and p_holm < 0.05 (the source's direction reads the target well);
- "borderline": otherwise, peak AUROC > 0.60 or p_holm < 0.05 (some signal, weak or not significant);
- "gone": neither.
The label-agreement baseline (`agreement_auroc`: the source's own label on the same question and template
used as the score) says how much any source-derived score could transfer through shared labels alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.pipeline import Pipeline

from sycolab.probing.intervals import auroc_intervals
from sycolab.probing.logistic import probe_scores
from sycolab.probing.probes import LayerResult, overlapping, single_threaded
from sycolab.probing.stats import auroc_null, block_permutations, holm, maxt_pvalues

PRESERVED_AUROC = 0.70
BORDERLINE_AUROC = 0.60
ALPHA = 0.05

FoldProbes = Mapping[int, "Pipeline | None"]


@dataclass
class TransferRow:
    source: str
    target: str
    layer: int
    auroc: float
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    p_value: float = float("nan")
    p_layers: float = float("nan")
    p_holm: float = float("nan")
    p_floor: float = float("nan")


@dataclass(frozen=True)
class TransferSummary:
    source: str
    target: str
    peak_layer: int | None
    peak_auroc: float
    p_holm: float
    interpretation: str
    peak_ci_low: float = float("nan")
    peak_ci_high: float = float("nan")
    peak_set: list[int] = field(default_factory=list)
    mean_auroc: float = float("nan")
    p_floor: float = float("nan")
    agreement_auroc: float = float("nan")


@single_threaded
def crossfit_scores(
    fold_probes: Mapping[int, FoldProbes],
    target_acts: Mapping[int, np.ndarray] | Callable[[int], np.ndarray],
    target_folds: np.ndarray,
) -> tuple[list[int], np.ndarray]:
    """(layers, [L, n] scores): each target sample scored by the source probe of its fold (nan: no probe)."""
    layers = sorted(fold_probes)
    get = target_acts if callable(target_acts) else target_acts.__getitem__
    scores = np.full((len(layers), len(target_folds)), np.nan)
    for row, layer in enumerate(layers):
        x = np.asarray(get(layer), dtype=np.float32)
        for fold, probe in fold_probes[layer].items():
            rows = np.flatnonzero(target_folds == fold)
            if probe is not None and rows.size:
                scores[row, rows] = probe_scores(probe, x[rows])
    return layers, scores


@single_threaded
def transfer_rows(
    source: str,
    target: str,
    layers: Sequence[int],
    scores: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
    boot_weights: np.ndarray | None = None,
) -> list[TransferRow]:
    """The statistics of fixed out-of-fold `scores` [L, n] of one target (samples with a nan score left out)."""
    y = np.asarray(labels, dtype=bool)
    keep = np.isfinite(scores).all(0) if len(layers) else np.zeros(y.size, dtype=bool)
    if not keep.any():
        return [TransferRow(source, target, layer, float("nan")) for layer in layers]
    s, yk = scores[:, keep], y[keep]
    null = auroc_null(s, yk[block_permutations(np.asarray(groups)[keep], n_permutations, rng)])  # [P, L]
    observed = auroc_null(s, yk[None, :])[0]
    raw = (1 + (null >= observed[None, :] - 1e-12).sum(0)) / (1 + n_permutations)
    adjusted = maxt_pvalues(observed, null)
    ci = np.full((len(layers), 2), np.nan) if boot_weights is None else auroc_intervals(s, yk, boot_weights[:, keep])
    return [
        TransferRow(source, target, layer, float(a), float(lo), float(hi), float(p), float(pa))
        for layer, a, (lo, hi), p, pa in zip(layers, observed, ci, raw, adjusted, strict=True)
    ]


def correct_across_targets(rows: Sequence[TransferRow], n_permutations: int) -> None:
    """Fill `p_holm` and `p_floor` of every row: Holm over targets of the per-target max-T p (module docstring)."""
    targets = list(dict.fromkeys(r.target for r in rows))
    best = {t: np.nanmin([r.p_layers for r in rows if r.target == t] + [np.inf]) for t in targets}
    finite = [t for t in targets if np.isfinite(best[t])]
    floor = len(finite) / (n_permutations + 1) if finite else float("nan")
    for row in rows:
        row.p_floor = floor
        if row.target not in finite or not np.isfinite(row.p_layers):
            continue
        p = np.array([row.p_layers if t == row.target else best[t] for t in finite])
        row.p_holm = float(holm(p)[finite.index(row.target)])


def interpret(peak_auroc: float, p_holm: float) -> str:
    """'preserved' / 'borderline' / 'gone' (thresholds in the module docstring)."""
    significant = bool(np.isfinite(p_holm) and p_holm < ALPHA)
    if np.isfinite(peak_auroc) and peak_auroc >= PRESERVED_AUROC and significant:
        return "preserved"
    if (np.isfinite(peak_auroc) and peak_auroc > BORDERLINE_AUROC) or significant:
        return "borderline"
    return "gone"


def summarise_transfer(rows: Sequence[TransferRow], agreement: Mapping[str, float] | None = None) -> list[TransferSummary]:
    """One summary per (source, target): peak layer with interval and overlapping layers, mean AUROC, p_holm."""
    out = []
    agreement = agreement or {}
    for source, target in dict.fromkeys((r.source, r.target) for r in rows):
        mine = [r for r in rows if (r.source, r.target) == (source, target) and np.isfinite(r.auroc)]
        agree = agreement.get(target, float("nan"))
        if not mine:
            out.append(TransferSummary(source, target, None, float("nan"), float("nan"), "gone", agreement_auroc=agree))
            continue
        peak = max(mine, key=lambda r: (r.auroc, -r.layer))
        as_layers = [LayerResult(r.layer, "logistic", r.auroc, float("nan"), r.ci_low, r.ci_high) for r in mine]
        out.append(
            TransferSummary(
                source, target, peak.layer, peak.auroc, peak.p_holm, interpret(peak.auroc, peak.p_holm),
                peak_ci_low=peak.ci_low, peak_ci_high=peak.ci_high,
                peak_set=overlapping(as_layers[mine.index(peak)], as_layers),
                mean_auroc=float(np.mean([r.auroc for r in mine])), p_floor=peak.p_floor, agreement_auroc=agree,
            )
        )
    return out
