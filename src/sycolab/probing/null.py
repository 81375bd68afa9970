"""The permutation null of a layer's probe AUROC: every permuted label vector refit, fold by fold, in one
matrix product per fold (`refit_null`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import rankdata

if TYPE_CHECKING:
    from sycolab.probing.probes import ScanDesign


def refit_null(x: np.ndarray, design: ScanDesign, c: float) -> np.ndarray:
    """[P] pooled out-of-fold AUROCs of a linear probe refit, fold by fold, to each permuted label vector.

    A refit per permutation is what makes the null valid: scoring permuted held-out labels against fixed
    out-of-fold scores is not, because fold j's probe was fit on fold k's labels, so the folds' AUROCs share
    the same noise (measured: 10% false positives at a 5% level). Refitting the logistic probe hundreds of
    times per layer is too slow, so each refit is its one Newton step from the intercept-only fit (the
    score test's direction), which is linear in the labels:
        w = C (C p(1-p) Z'Z + I)^-1 Z'(y - p),   b = logit(p),
    Z the training part standardised with its own mean and scale, p its label rate (fixed within folds by
    the permutation scheme). Under the null the logistic fit stays near that point, so this is its refit
    null to first order (test_probing_transfer checks the false-positive rate). All permutations of a fold
    are one matrix product; the solve uses Z'Z or ZZ', whichever is smaller. Also the null of the MLP probe
    (an approximation: the MLP is never refit).
    """
    labels = design.null_labels
    out = np.full(labels.shape, np.nan)
    x = np.asarray(x, dtype=np.float64)
    for train, test in design.splits:
        rate = float(labels[0, train].mean())
        if not 0 < rate < 1:
            continue
        mean, scale = x[train].mean(0), x[train].std(0)
        scale[scale == 0] = 1.0
        z, z_test = (x[train] - mean) / scale, (x[test] - mean) / scale
        curvature = c * rate * (1 - rate)
        if z.shape[0] >= z.shape[1]:
            weights_of = np.linalg.solve(curvature * (z.T @ z) + np.eye(z.shape[1]), c * z.T)  # [d, n_train]
            hat = z_test @ weights_of
        else:
            hat = c * (z_test @ z.T) @ np.linalg.inv(curvature * (z @ z.T) + np.eye(z.shape[0]))
        out[:, test] = np.log(rate / (1 - rate)) + (labels[:, train] - rate) @ hat.T
    keep = np.isfinite(out[0])
    if not keep.any():
        return np.full(labels.shape[0], np.nan)
    return _row_aurocs(out[:, keep], labels[:, keep])


def _row_aurocs(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC of each row of `scores` [P, n] against the same row of 0/1 `labels` [P, n] (same positives count)."""
    n1 = labels[0].sum()
    n0 = labels.shape[1] - n1
    if n1 == 0 or n0 == 0:
        return np.full(scores.shape[0], np.nan)
    ranks = rankdata(scores, axis=1)
    return ((ranks * labels).sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0)
