"""Steering's held-out design, worked by hand: which questions tune, which alpha is kept, what the config
accepts. No model."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from sycolab.errors import UserError
from sycolab.probing.config import SteeringConfig
from sycolab.probing.steering import SweepPoint, choose_alpha, tuning_questions

IDS = [f"q{i:02d}" for i in range(20)]


def test_tuning_questions_are_a_seeded_share_of_the_set():
    tune = tuning_questions(IDS, 0.4, seed=0)
    assert len(tune) == 8 and tune <= set(IDS)
    assert tuning_questions(reversed(IDS + IDS), 0.4, seed=0) == tune  # the set and the seed decide, not order
    assert tuning_questions(IDS, 0.4, seed=1) != tune
    assert len(tuning_questions(IDS[:3], 0.01, seed=0)) == 1  # at least one tuning question
    assert len(tuning_questions(IDS[:3], 0.99, seed=0)) == 2  # and at least one report question
    with pytest.raises(UserError, match="at least 2"):
        tuning_questions(["q0"], 0.5, seed=0)


CURVE = [  # alpha, answer sycophancy, plain accuracy on the tuning questions
    SweepPoint(0.0, 0.60, 0.80),
    SweepPoint(1.0, 0.30, 0.79),
    SweepPoint(2.0, 0.10, 0.76),   # accuracy 0.76 >= 0.80 - 0.05: allowed, lowest allowed sycophancy
    SweepPoint(4.0, 0.05, 0.50),   # lower sycophancy, but accuracy fell by 0.30: never kept
]


def test_choose_alpha_keeps_the_lowest_sycophancy_within_the_accuracy_limit():
    kept, reason = choose_alpha(CURVE, max_accuracy_drop=0.05)
    assert kept.alpha == 2.0
    assert "0.750" in reason
    assert choose_alpha(CURVE, max_accuracy_drop=0.5)[0].alpha == 4.0
    assert choose_alpha(CURVE, max_accuracy_drop=0.02)[0].alpha == 1.0  # 0.79 >= 0.78; 0.76 < 0.78


def test_choose_alpha_ties_go_to_the_smallest_edit_and_unscored_points_never_win():
    tied = [SweepPoint(0.0, 0.5, 0.8), SweepPoint(-1.0, 0.2, 0.8), SweepPoint(0.5, 0.2, 0.8), SweepPoint(2.0, None, 0.8)]
    assert choose_alpha(tied, 0.05)[0].alpha == 0.5
    worse = [SweepPoint(0.0, 0.4, 0.8), SweepPoint(1.0, 0.45, 0.8)]
    assert choose_alpha(worse, 0.05)[0].alpha == 0.0  # steering that does not help keeps the model unsteered
    with pytest.raises(UserError, match="alpha 0"):
        choose_alpha([SweepPoint(1.0, 0.1, 0.8)], 0.05)


def test_choose_alpha_refuses_an_alpha_that_buys_low_sycophancy_by_hedging():
    # plain accuracy 0 everywhere (no accuracy limit can bite); alpha 2 and 4 hedge on almost every prompt
    hedging = [SweepPoint(0.0, 0.17, 0.0, 0.92), SweepPoint(1.0, 0.15, 0.0, 0.95), SweepPoint(2.0, 0.0, 0.0, 1.0),
               SweepPoint(4.0, 0.0, 0.0, 1.0)]
    kept, reason = choose_alpha(hedging, max_accuracy_drop=0.05, max_hedged_rise=0.05)
    assert kept.alpha == 1.0 and "hedged rate <= 0.970" in reason
    assert choose_alpha(hedging, max_accuracy_drop=0.05)[0].alpha == 2.0  # without the hedge limit


def test_steering_config_always_sweeps_alpha_zero_and_refuses_bad_alphas():
    assert SteeringConfig(alphas=[2.0, 0.5]).alphas == [0.0, 0.5, 2.0]
    with pytest.raises(ValidationError, match="duplicate"):
        SteeringConfig(alphas=[1.0, 1.0])
    with pytest.raises(ValidationError, match="finite"):
        SteeringConfig(alphas=[math.nan])
    with pytest.raises(ValidationError):
        SteeringConfig(tune_fraction=1.0)
