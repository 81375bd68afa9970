"""Cluster-bootstrap intervals for AUROCs of fixed scores, resampling base questions.

A resample draws the C questions with replacement (`evaluation.bootstrap.ClusterBootstrap`, the same
draws and seeding as the behavioural metrics' intervals); a sample counts as many times as its question
was drawn, and the AUROC of the resample is the weighted AUROC (`stats.weighted_auroc`). The interval is
the percentile interval of the replicates (Efron & Tibshirani 1993, ch. 13). The scores are held fixed:
the interval covers which questions were asked, given the fitted probes, not the probes' fitting noise.
"""

from __future__ import annotations

import numpy as np

from sycolab.evaluation.bootstrap import ClusterBootstrap
from sycolab.probing.stats import weighted_auroc

STRATUM = "questions"


def bootstrap_weights(groups: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """[n_resamples, n] draw counts: how many times sample i's question is drawn in each resample."""
    ids = [str(g) for g in np.asarray(groups)]
    plan = ClusterBootstrap({STRATUM: ids}, n_resamples=n_resamples, seed=seed)
    cluster = plan.ratio(STRATUM, ids, [0.0] * len(ids)).cluster
    c = plan.n_clusters(STRATUM)
    out = np.empty((n_resamples, len(ids)))
    for start, stop, draws in plan.draws(STRATUM):
        offsets = (np.arange(stop - start) * c)[:, None]
        counts = np.bincount((offsets + draws).ravel(), minlength=(stop - start) * c).reshape(stop - start, c)
        out[start:stop] = counts[:, cluster]
    return out


def auroc_intervals(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, level: float = 0.95) -> np.ndarray:
    """[k, 2] percentile intervals of the AUROC of each row of `scores` [k, n] under bootstrap `weights`."""
    scores = np.atleast_2d(scores)
    tail = (1 - level) / 2 * 100
    out = np.full((scores.shape[0], 2), np.nan)
    for row, s in enumerate(scores):
        reps = weighted_auroc(s, labels, weights)
        reps = reps[np.isfinite(reps)]
        if reps.size:
            out[row] = np.percentile(reps, [tail, 100 - tail])
    return out
