"""Cluster (by base question) percentile bootstrap for rates and functions of rates, vectorised with numpy.

Samples built on one base question are not independent (four templates of one question, five
templates of one feedback text), so resampling is by cluster (Field & Welsh 2007, "Bootstrapping
clustered data"): each replicate draws the stratum's C clusters with replacement and recomputes
every rate as sum(numerator) / sum(denominator) over the drawn clusters' samples. The 95% interval is
the 2.5th and 97.5th percentiles of the replicates (Efron & Tibshirani 1993, ch. 13).

Strata (the datasets answer / are_you_sure / feedback) are resampled independently (a stratified
bootstrap); within a stratum every rate uses the same draws, so a difference of two rates on the same
questions (the answer-sycophancy gap) keeps its pairing. A statistic combining strata (the aggregate)
combines replicate b of each. Draws are regenerated from a seed derived from (seed, stratum name) on
demand, block by block, so memory stays bounded (about 4M indices per block) at any scale.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

_BLOCK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Ratio:
    """sum(num) / sum(den) over samples; `cluster[i]` indexes sample i's cluster in its stratum."""

    stratum: str
    cluster: np.ndarray
    num: np.ndarray
    den: np.ndarray

    @property
    def n(self) -> int:
        return int(self.num.shape[0])


Combine = Callable[[Sequence[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile interval (None where undefined, e.g. no samples)."""

    value: float | None
    low: float | None
    high: float | None


class ClusterBootstrap:
    """Resampling plan: `clusters[stratum]` lists that stratum's cluster ids (duplicates allowed)."""

    def __init__(self, clusters: Mapping[str, Iterable[str]], n_resamples: int = 1000, seed: int = 0, level: float = 0.95):
        if n_resamples < 1:
            raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        self.n_resamples = int(n_resamples)
        self.seed = int(seed)
        self.level = float(level)
        self._index = {s: {c: i for i, c in enumerate(dict.fromkeys(ids))} for s, ids in clusters.items()}
        self._one_block: dict[str, np.ndarray] = {}  # a stratum's draws when they fit in one block

    def n_clusters(self, stratum: str) -> int:
        return len(self._index.get(stratum, {}))

    def ratio(self, stratum: str, cluster_ids: Sequence[str], num: Sequence[float], den: Sequence[float] | None = None) -> Ratio:
        """A rate over samples of `stratum`; `den` defaults to 1 per sample (a plain share)."""
        index = self._index[stratum]
        try:
            cluster = np.fromiter((index[c] for c in cluster_ids), dtype=np.int64, count=len(cluster_ids))
        except KeyError as e:
            raise ValueError(f"cluster {e.args[0]!r} is not one of stratum {stratum!r}'s clusters") from None
        num_a = np.asarray(num, dtype=np.float64)
        den_a = np.ones_like(num_a) if den is None else np.asarray(den, dtype=np.float64)
        if not (cluster.shape == num_a.shape == den_a.shape):
            raise ValueError("cluster ids, numerators and denominators must have the same length")
        return Ratio(stratum, cluster, num_a, den_a)

    @staticmethod
    def estimate(ratio: Ratio) -> float:
        """The rate on the data itself (nan when the denominator is 0)."""
        den = float(ratio.den.sum())
        return float(ratio.num.sum()) / den if den > 0 else float("nan")

    def replicates(self, ratio: Ratio) -> np.ndarray:
        """The rate in each of `n_resamples` cluster resamples, shape (n_resamples,); nan where a
        resample holds none of the ratio's samples."""
        c = self.n_clusters(ratio.stratum)
        out = np.full(self.n_resamples, np.nan)
        if c == 0 or ratio.n == 0:
            return out
        per_num = np.bincount(ratio.cluster, weights=ratio.num, minlength=c)
        per_den = np.bincount(ratio.cluster, weights=ratio.den, minlength=c)
        for start, stop, draws in self.draws(ratio.stratum):
            num, den = per_num[draws].sum(axis=1), per_den[draws].sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[start:stop] = np.where(den > 0, num / den, np.nan)
        return out

    def draws(self, stratum: str) -> Iterator[tuple[int, int, np.ndarray]]:
        """(start, stop, draws [stop - start, C]) blocks of the resamples of `stratum`: each row draws the
        stratum's C cluster indices with replacement. The same seed gives the same draws to every caller.
        Draws that fit in one block are generated once per stratum and shared (read-only) by every rate of
        that stratum; larger ones are regenerated block by block, so memory stays bounded."""
        c = self.n_clusters(stratum)
        block = max(1, _BLOCK_ELEMENTS // max(c, 1))
        if block >= self.n_resamples:
            if stratum not in self._one_block:
                rng = np.random.default_rng([self.seed, zlib.crc32(stratum.encode("utf-8"))])
                draws = rng.integers(0, c, size=(self.n_resamples, c))
                draws.flags.writeable = False
                self._one_block[stratum] = draws
            yield 0, self.n_resamples, self._one_block[stratum]
            return
        rng = np.random.default_rng([self.seed, zlib.crc32(stratum.encode("utf-8"))])
        for start in range(0, self.n_resamples, block):
            stop = min(self.n_resamples, start + block)
            yield start, stop, rng.integers(0, c, size=(stop - start, c))

    def interval(self, ratios: Sequence[Ratio], combine: Combine | None = None) -> Interval:
        """Point estimate and percentile interval of `combine(rates)` (default: the single rate)."""
        fn: Combine = combine or (lambda xs: xs[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of all-nan
            point = float(np.asarray(fn([np.asarray(self.estimate(r)) for r in ratios])))
            if not np.isfinite(point):
                return Interval(None, None, None)
            reps = np.asarray(fn([self.replicates(r) for r in ratios]), dtype=np.float64)
        reps = reps[np.isfinite(reps)]
        if reps.size == 0:
            return Interval(point, None, None)
        tail = (1 - self.level) / 2 * 100
        low, high = np.percentile(reps, [tail, 100 - tail])
        return Interval(point, float(low), float(high))
