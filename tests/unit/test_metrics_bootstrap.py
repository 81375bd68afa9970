"""Cluster percentile bootstrap: contains the estimate, narrows with n, resamples questions not samples,
keeps pairing inside a stratum, is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from sycolab.evaluation.bootstrap import ClusterBootstrap


def share(outcomes: list[int], repeats: int = 1, seed: int = 0, n_resamples: int = 2000):
    ids = [f"q{i}" for i in range(len(outcomes)) for _ in range(repeats)]
    boot = ClusterBootstrap({"answer": ids}, n_resamples=n_resamples, seed=seed)
    ratio = boot.ratio("answer", ids, [o for o in outcomes for _ in range(repeats)])
    return boot.interval([ratio])


def bernoulli(n: int, p: float, seed: int) -> list[int]:
    return list((np.random.default_rng(seed).random(n) < p).astype(int))


def test_interval_contains_estimate_and_narrows_as_n_grows() -> None:
    small, large = share(bernoulli(50, 0.3, 1)), share(bernoulli(2000, 0.3, 2))
    for iv in (small, large):
        assert iv.low <= iv.value <= iv.high
    # width ~ 2 * 1.96 * sqrt(p (1 - p) / n): 0.254 at n = 50, 0.040 at n = 2000
    assert (large.high - large.low) < (small.high - small.low) / 3


def test_width_matches_the_normal_approximation() -> None:
    iv = share([1] * 200 + [0] * 200)  # p = 0.5, n = 400: 2 * 1.96 * 0.025 = 0.098
    assert iv.value == 0.5
    assert 0.08 < iv.high - iv.low < 0.12


def test_resamples_by_question_not_by_sample() -> None:
    outcomes = bernoulli(100, 0.4, 3)
    once = share(outcomes, repeats=1)
    four = share(outcomes, repeats=4)  # every question's sample repeated 4 times within its cluster
    # an iid bootstrap would halve the width; resampling whole questions leaves it unchanged
    assert (four.value, four.low, four.high) == pytest.approx((once.value, once.low, once.high))


def test_paired_difference_within_a_stratum() -> None:
    # neutral and pressured answers of the same 300 questions: pressured = neutral except on 30 questions,
    # so the paired difference (0.1) is far tighter than two independent rates' difference would be
    neutral = bernoulli(300, 0.7, 4)
    pressured = [0 if i < 30 else x for i, x in enumerate(neutral)]
    neutral = [1 if i < 30 else x for i, x in enumerate(neutral)]
    ids = [f"q{i}" for i in range(300)]
    boot = ClusterBootstrap({"answer": ids}, n_resamples=2000, seed=0)
    diff = boot.interval([boot.ratio("answer", ids, neutral), boot.ratio("answer", ids, pressured)], lambda xs: xs[0] - xs[1])
    assert diff.value == pytest.approx(0.1)
    assert diff.high - diff.low < 0.08  # independent rates would give about 2 * 1.96 * sqrt(2 * 0.7 * 0.3 / 300) = 0.15


def test_seeded_and_stratum_independent() -> None:
    outcomes = bernoulli(80, 0.5, 5)
    ids = [f"q{i}" for i in range(80)]

    def replicates(seed: int) -> np.ndarray:
        boot = ClusterBootstrap({"answer": ids}, n_resamples=300, seed=seed)
        return boot.replicates(boot.ratio("answer", ids, outcomes))

    assert np.array_equal(replicates(7), replicates(7))
    assert not np.array_equal(replicates(7), replicates(8))
    alone = ClusterBootstrap({"answer": ids}, n_resamples=500, seed=3)
    with_other = ClusterBootstrap({"answer": ids, "feedback": ["x", "y"]}, n_resamples=500, seed=3)
    # adding another data set does not move this one's interval
    assert alone.interval([alone.ratio("answer", ids, outcomes)]) == with_other.interval([with_other.ratio("answer", ids, outcomes)])


def test_empty_and_degenerate() -> None:
    boot = ClusterBootstrap({"answer": ["q1", "q2"]}, n_resamples=100)
    empty = boot.interval([boot.ratio("answer", [], [])])
    assert (empty.value, empty.low, empty.high) == (None, None, None)
    constant = boot.interval([boot.ratio("answer", ["q1", "q2"], [1, 1])])
    assert (constant.value, constant.low, constant.high) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="not one of stratum"):
        boot.ratio("answer", ["q9"], [1])


def test_large_scale_is_bounded_and_fast() -> None:
    n = 20_000  # 20k clusters x 1000 resamples runs in 4M-index blocks
    ids = [f"q{i}" for i in range(n)]
    boot = ClusterBootstrap({"answer": ids}, n_resamples=1000, seed=0)
    iv = boot.interval([boot.ratio("answer", ids, bernoulli(n, 0.2, 6))])
    assert iv.low < iv.value < iv.high and iv.high - iv.low < 0.015


def test_one_block_draws_are_shared_and_equal_to_block_by_block(monkeypatch) -> None:
    from sycolab.evaluation import bootstrap

    ids = [f"q{i}" for i in range(30)]
    shared = ClusterBootstrap({"answer": ids}, n_resamples=200, seed=3)
    (_, _, first), = shared.draws("answer")
    (_, _, again), = shared.draws("answer")
    assert again is first and not first.flags.writeable  # generated once, nobody can change them
    monkeypatch.setattr(bootstrap, "_BLOCK_ELEMENTS", 30 * 7)  # 7 resamples per block: 29 blocks
    blocks = list(ClusterBootstrap({"answer": ids}, n_resamples=200, seed=3).draws("answer"))
    assert len(blocks) == 29 and np.array_equal(np.concatenate([d for _, _, d in blocks]), first)
    ratio = shared.ratio("answer", ids, [i % 3 == 0 for i in range(30)])
    assert np.array_equal(shared.replicates(ratio), ClusterBootstrap({"answer": ids}, 200, 3).replicates(ratio))
