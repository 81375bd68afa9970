"""Statistics for probes: rank AUROC, vectorised permutation p-values, question-block permutations,
Westfall-Young max-T adjusted p-values, Holm and Benjamini-Hochberg, and the weighted AUROC of bootstrap
resamples.

AUROC is the Mann-Whitney U statistic scaled to [0, 1] (Hanley & McNeil 1982):
    AUROC = (sum of the positives' ranks - n1 (n1 + 1) / 2) / (n1 n0),
ranks of all scores ascending, ties given their average rank (so a tie counts one half). Because a
permutation of the labels keeps n1, the AUROC of many label vectors at once is one matrix product of a
[n_perm, n] 0/1 label matrix with the rank vector.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUROC of `scores` for boolean `labels` (nan when a class is empty)."""
    return float(auroc_many(np.asarray(scores)[None, :], np.asarray(labels))[0])


def auroc_many(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC of each row of `scores` [k, n] against the same `labels` [n]: [k]."""
    y = np.asarray(labels, dtype=bool)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return np.full(scores.shape[0], np.nan)
    ranks = rankdata(scores, axis=1)
    return (ranks[:, y].sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def permutation_label_matrix(labels: np.ndarray, n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    """[n_permutations, n] float matrix whose rows are independent random permutations of `labels`."""
    y = np.asarray(labels, dtype=np.float64)
    return rng.permuted(np.broadcast_to(y, (n_permutations, y.size)), axis=1)


def permutation_pvalues(
    scores: np.ndarray, labels: np.ndarray, n_permutations: int, rng: np.random.Generator, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided permutation test of AUROC > 0.5 for each row of `scores` [k, n] (or [n]) against `labels`.

    Returns (observed AUROC [k], p [k]) with p = (1 + #{perm AUROC >= observed}) / (1 + n_permutations)
    (Phipson & Smyth 2010: never 0, exact level under the null). The same permutations serve all rows;
    AUROCs of all permutations are computed as one matrix product per chunk of permutations, and the
    observed value is compared with a 1e-12 tolerance so that ties count as exceedances.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    y = np.asarray(labels, dtype=bool)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        nan = np.full(scores.shape[0], np.nan)
        return nan, nan.copy()
    ranks = rankdata(scores, axis=1)  # [k, n]
    offset = n1 * (n1 + 1) / 2
    observed = (ranks[:, y].sum(1) - offset) / (n1 * n0)
    exceed = np.zeros(scores.shape[0], dtype=np.int64)
    done = 0
    while done < n_permutations:
        size = min(chunk, n_permutations - done)
        perm = permutation_label_matrix(y, size, rng)  # [size, n]
        null = (perm @ ranks.T - offset) / (n1 * n0)  # [size, k]
        exceed += (null >= observed[None, :] - 1e-12).sum(0)
        done += size
    return observed, (1 + exceed) / (1 + n_permutations)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values: p_(i) * (m - i + 1), made monotone, capped at 1. NaN stays NaN."""
    return _adjust(pvalues, _holm_sorted)


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) FDR adjusted p-values: min over j >= i of p_(j) m / j, capped at 1. NaN stays NaN."""
    return _adjust(pvalues, _bh_sorted)


def _holm_sorted(p: np.ndarray) -> np.ndarray:
    m = p.size
    return np.minimum(np.maximum.accumulate(p * np.arange(m, 0, -1)), 1.0)


def _bh_sorted(p: np.ndarray) -> np.ndarray:
    m = p.size
    scaled = p * m / np.arange(1, m + 1)
    return np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)


def _adjust(pvalues: np.ndarray, adjust_sorted) -> np.ndarray:
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = ~np.isnan(p)
    if not finite.any():
        return out
    values = p[finite]
    order = np.argsort(values, kind="stable")
    adjusted = np.empty_like(values)
    adjusted[order] = adjust_sorted(values[order])
    out[finite] = adjusted
    return out


def null_auroc_sd(n_positive: int, n_negative: int) -> float:
    """Standard deviation of AUROC under the null of no signal: sqrt((n1 + n0 + 1) / (12 n1 n0))."""
    return float(np.sqrt((n_positive + n_negative + 1) / (12 * n_positive * n_negative)))


def block_permutations(
    groups: np.ndarray, n_permutations: int, rng: np.random.Generator, strata: np.ndarray | None = None
) -> np.ndarray:
    """[n_permutations, n] index matrix: row p sends each sample's label to `labels[index[p]]`.

    Question-preserving scheme: questions (`groups`) of the same size (and the same stratum, when given)
    exchange their whole label blocks, and within the destination question the block's labels land in
    random order. Each question keeps its number of samples and its number of positives (so the
    within-question correlation of labels, which shrinks the effective sample size, is kept), while any
    tie between a label and the sample it sits on (activations, template, knowledge) is broken. A question
    alone in its (stratum, size) class can only shuffle its own samples.
    """
    groups = np.asarray(groups)
    n = groups.size
    strata = np.zeros(n, dtype=np.int64) if strata is None else np.unique(np.asarray(strata), return_inverse=True)[1]
    out = np.empty((n_permutations, n), dtype=np.int64)
    _, question = np.unique(groups, return_inverse=True)
    members: dict[tuple, list[list[int]]] = {}
    by_question: dict[int, list[int]] = {}
    for i, q in enumerate(question):
        by_question.setdefault(int(q), []).append(i)
    for rows in by_question.values():
        members.setdefault((int(strata[rows[0]]), len(rows)), []).append(rows)
    for blocks in members.values():
        table = np.asarray(blocks, dtype=np.int64)  # [questions, size]
        c, m = table.shape
        which = rng.permuted(np.broadcast_to(np.arange(c), (n_permutations, c)), axis=1)  # the block each receives
        order = rng.permuted(np.broadcast_to(np.arange(m), (n_permutations, c, m)), axis=2)  # where its labels land
        out[:, table.ravel()] = table[which[:, :, None], order].reshape(n_permutations, c * m)
    return out


def auroc_null(scores: np.ndarray, permuted: np.ndarray) -> np.ndarray:
    """[P, k] AUROC of each row of `scores` [k, n] against each row of `permuted` [P, n], 0/1 label vectors
    with the same number of positives (permutations of one label vector, e.g. `labels[block_permutations(...)]`).

    The rank trick of the module docstring: all P x k AUROCs are one product of the label matrix with the
    [n, k] ranks.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    permuted = np.atleast_2d(np.asarray(permuted, dtype=np.float64))
    n1 = int(permuted[0].sum())
    n0 = permuted.shape[1] - n1
    if n1 == 0 or n0 == 0:
        return np.full((permuted.shape[0], scores.shape[0]), np.nan)
    ranks = rankdata(scores, axis=1).T  # [n, k]
    return (permuted @ ranks - n1 * (n1 + 1) / 2) / (n1 * n0)


def maxt_pvalues(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Westfall-Young single-step max-T adjusted p-values over a family of k tests (here: the layers).

    `null` [P, k] holds the statistics of the same P permutations for every test, so their dependence is
    kept; p_j = (1 + #{p : max_l null[p, l] >= observed_j}) / (P + 1) (Westfall & Young 1993, alg. 2.8;
    the +1 of Phipson & Smyth 2010). Family-wise error <= alpha over the k tests; the smallest reachable
    value is 1 / (P + 1) whatever k is. NaN tests are left out of the maximum and stay NaN.
    """
    observed = np.asarray(observed, dtype=np.float64)
    finite = np.isfinite(observed)
    out = np.full(observed.shape, np.nan)
    if not finite.any():
        return out
    worst = np.nanmax(np.where(np.isfinite(null[:, finite]), null[:, finite], -np.inf), axis=1)  # [P]
    worst = np.sort(worst)
    exceed = worst.size - np.searchsorted(worst, observed[finite] - 1e-12, side="left")
    out[finite] = (1 + exceed) / (1 + worst.size)
    return out


_PAIR_MATRIX_LIMIT = 4_000_000


def weighted_auroc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of `scores` [n] when sample i counts `weights[b, i]` times, for each row b of `weights` [B, n].

    sum over positive-negative pairs of w_i w_j ([s_i > s_j] + [s_i = s_j] / 2), over (sum w_pos)(sum w_neg):
    the AUROC of a bootstrap resample whose draw counts are the weights. Up to 4M pairs, one product with the
    [n_pos, n_neg] pair matrix (fastest at probe sizes); beyond, O(B n) through the negative weight below each
    tie level (a running sum over levels).
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    w_pos, w_neg = w[:, y], w[:, ~y]
    if y.sum() * (~y).sum() <= _PAIR_MATRIX_LIMIT:
        diff = s[y][:, None] - s[~y][None, :]
        num = ((w_pos @ ((diff > 0) + 0.5 * (diff == 0))) * w_neg).sum(1)
    else:
        _, level = np.unique(s, return_inverse=True)
        u = int(level.max()) + 1
        offsets = (np.arange(w.shape[0]) * u)[:, None]
        flat = (offsets + level[None, ~y]).ravel()
        neg_at = np.bincount(flat, weights=w_neg.ravel(), minlength=w.shape[0] * u).reshape(w.shape[0], u)
        below = np.cumsum(neg_at, axis=1) - neg_at
        num = (w_pos * (below[:, level[y]] + 0.5 * neg_at[:, level[y]])).sum(1)
    den = w_pos.sum(1) * w_neg.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)
