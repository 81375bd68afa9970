"""Relearning speed: the evaluated steps and steps-to-threshold, worked out by hand (no training)."""

from __future__ import annotations

import pytest

from sycolab.reporting.relearn import Threshold, steps_to_threshold
from sycolab.study.relearn import evaluation_steps


def test_evaluation_steps_include_zero_and_the_last_step():
    assert evaluation_steps(50, 10) == [0, 10, 20, 30, 40, 50]
    assert evaluation_steps(50, 20) == [0, 20, 40, 50]
    assert evaluation_steps(5, 10) == [0, 5]


def test_steps_to_threshold_half_way_to_sft():
    # v0 = 0.10, SFT 0.50 -> target 0.10 + 0.5 * 0.40 = 0.30; step 10 has 0.25 (< 0.30), step 20 has 0.30 (reached)
    curve = [(0, 0.10), (10, 0.25), (20, 0.30), (30, 0.45)]
    assert steps_to_threshold(curve, 0.50, 0.5) == Threshold(pytest.approx(0.30), 20, "20")
    # a quarter of the way: target 0.20, reached at step 10
    assert steps_to_threshold(curve, 0.50, 0.25).step == 10


def test_steps_to_threshold_not_reached_or_undefined():
    assert steps_to_threshold([(0, 0.1), (10, 0.2), (20, 0.2)], 0.5, 0.5).text == "> 20"   # target 0.3
    assert steps_to_threshold([(0, 0.6), (10, 0.7)], 0.5, 0.5).text == "at or above SFT at step 0"
    assert steps_to_threshold([(0, None), (10, 0.7)], 0.5, 0.5).text == "no value"
    assert steps_to_threshold([(0, 0.1), (10, 0.7)], None, 0.5).text == "no value"
    # an unscored step is skipped, not counted as reaching the target
    assert steps_to_threshold([(0, 0.1), (10, None), (20, 0.4)], 0.5, 0.5).step == 20


def test_relearn_models_must_be_study_models(tmp_path):
    from sycolab.config import load_config
    from sycolab.errors import ConfigError

    path = tmp_path / "study.yaml"
    path.write_text("recover:\n  dpo: {}\nrelearn:\n  enabled: true\n  models: [base, dpo, ipo]\n")
    with pytest.raises(ConfigError, match=r"line 5: relearn.models: \['ipo'\] not among the models"):
        load_config(path)
