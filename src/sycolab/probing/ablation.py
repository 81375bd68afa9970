"""Direction ablation: how much of the probe's signal lives in its top direction(s)?

Iterative nullspace projection (Ravfogel et al. 2020, "Null It Out", INLP) inside each cross-validation
fold: fit a logistic probe on the training part, take its direction in the raw activation space, project
it out of both parts (x <- x - (x . u) u, against every direction removed so far), retrain on the
projected training part and score the projected test part. Repeat for k = 1..K; the AUROC at k is that of
the pooled out-of-fold scores, with the same grouped folds as the original probe (`probes` docstring).

    recovery % = (ablated AUROC - 0.5) / (original AUROC - 0.5) * 100

100 % means the retrained probe recovers everything (the signal is spread over many directions); 0 %
means chance (the signal was concentrated in the removed directions). Directions come from training parts
only: fitting them on all samples would leak the test labels into the projection, and the retrained
probe then scores BELOW chance (the projection removes exactly the test samples' own signal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.pipeline import Pipeline

from sycolab.probing.config import ProbeConfig
from sycolab.probing.logistic import fit_logistic_batch, fit_probe, probe_scores
from sycolab.probing.probes import (
    Split,
    cv_auroc,
    pooled_auroc,
    probe_direction,
    single_threaded,
)


@dataclass(frozen=True)
class AblationStep:
    k: int
    original_auroc: float
    ablated_auroc: float
    recovery_pct: float | None


def recovery_pct(original: float, ablated: float) -> float | None:
    """(ablated - 0.5) / (original - 0.5) * 100; None when the original is not above chance."""
    if not np.isfinite(original) or not np.isfinite(ablated) or original <= 0.5:
        return None
    return float((ablated - 0.5) / (original - 0.5) * 100.0)


def project_out(x: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Remove the span of the orthonormal rows of `basis` [k, d] from the rows of `x` [n, d]."""
    if basis.size == 0:
        return x
    return x - (x @ basis.T) @ basis


@single_threaded
def ablation_curve(
    x: np.ndarray,
    labels: np.ndarray,
    splits: Sequence[Split],
    cfg: ProbeConfig,
    k_max: int,
    original_auroc: float | None = None,
    fold_probes: Sequence[Pipeline | None] | None = None,
) -> list[AblationStep]:
    """Held-out AUROC of a probe retrained after removing the top 1..k_max logistic directions (INLP per fold).

    `original_auroc` (the probe's own cross-validated AUROC on the same folds) is computed when not given;
    `fold_probes` (the original probe of each split, as `probes.out_of_fold` returns them) saves refitting.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)

    def fit(x_, y_):
        return fit_probe("logistic", x_, y_, cfg)

    original = cv_auroc(x, y, splits, fit) if original_auroc is None else original_auroc
    scores = np.full((k_max, y.size), np.nan)
    reached = k_max
    folds = [index for index, (train, _) in enumerate(splits) if len(np.unique(y[train])) == 2]
    given = {i: fold_probes[i] for i in folds if fold_probes is not None and fold_probes[i] is not None}
    missing = [i for i in folds if i not in given]
    refit = fit_logistic_batch([(x[splits[i][0]], y[splits[i][0]]) for i in missing], cfg)
    probes: dict[int, Pipeline] = {**given, **dict(zip(missing, refit, strict=True))}
    bases = {i: np.zeros((0, x.shape[1])) for i in folds}
    for k in range(k_max):  # each step's folds are fit together (`fit_logistic_batch`)
        exhausted = []
        for i in folds:
            direction = probe_direction(probes[i])
            direction = direction - bases[i].T @ (bases[i] @ direction)  # Gram-Schmidt against removed directions
            norm = np.linalg.norm(direction)
            if norm < 1e-8:
                reached = min(reached, k)
                exhausted.append(i)
            else:
                bases[i] = np.vstack([bases[i], direction / norm])
        folds = [i for i in folds if i not in exhausted]
        refits = fit_logistic_batch([(project_out(x[splits[i][0]], bases[i]), y[splits[i][0]]) for i in folds], cfg)
        for i, probe in zip(folds, refits, strict=True):
            probes[i] = probe
            test = splits[i][1]
            scores[k, test] = probe_scores(probe, project_out(x[test], bases[i]))
    steps = []
    for k in range(reached):
        ablated = pooled_auroc(scores[k], y)
        if not np.isfinite(ablated):
            break
        steps.append(AblationStep(k + 1, float(original), ablated, recovery_pct(original, ablated)))
    return steps
