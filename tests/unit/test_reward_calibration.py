"""The binary-reward calibration table: the pure functions on hand-worked numbers, and its report table beside
the binary GRPO run's frac_reward_zero_std (fake run store, no model)."""

from __future__ import annotations

import pytest
from _fake_store import write_fake_study

from sycolab.io import atomic_write_json
from sycolab.methods.reward_model import (
    threshold_calibration,
    zero_std_share_if_independent,
)
from sycolab.reporting._results import StudyData
from sycolab.reporting.assemble import _training_logs
from sycolab.reporting.training_tables import reward_calibration_table


def test_share_above_each_threshold_by_hand() -> None:
    rows = threshold_calibration([3.0, 0.0, 2.0, 1.0], [2.0, 0.5])
    # above 0.5: 1, 2, 3 (3 of 4); above 2.0: only 3 (a score equal to the threshold is not above)
    assert rows == [{"threshold": 0.5, "n_above": 3, "share_above": 0.75},
                    {"threshold": 2.0, "n_above": 1, "share_above": 0.25}]
    assert threshold_calibration([], None) == []


def test_default_thresholds_span_the_scores_plus_the_median() -> None:
    scores = [-1.0, 0.0, 1.0, 2.0, 3.0]  # median 1.0, which is also the middle grid point
    rows = threshold_calibration(scores)
    assert [r["threshold"] for r in rows] == [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert [r["share_above"] for r in rows] == [0.8, 0.8, 0.6, 0.6, 0.4, 0.4, 0.2, 0.2, 0.0]
    rows = threshold_calibration([0.0, 0.0, 10.0, 10.0])  # median 5.0 sits on the grid too: 0, 1.25, ..., 10
    assert len(rows) == 9 and {"threshold": 5.0, "n_above": 2, "share_above": 0.5} in rows


def test_zero_std_share_if_independent_by_hand() -> None:
    assert zero_std_share_if_independent(0.5, 8) == pytest.approx(2 / 256)
    assert zero_std_share_if_independent(0.4, 8) == pytest.approx(0.4**8 + 0.6**8)  # 0.0174515
    assert zero_std_share_if_independent(1.0, 8) == 1.0


def test_report_table_sits_beside_the_binary_run(tmp_path) -> None:
    root = write_fake_study(tmp_path, models=("base", "sft", "reward_model", "grpo_binary"))
    scores = [-1.0, 0.0, 1.0, 2.0, 3.0]
    atomic_write_json(root / "training" / "reward_model" / "summary.json", {
        "median_score": 1.0, "median_n": 5, "policy_scores": scores, "threshold_calibration": threshold_calibration(scores),
    })
    atomic_write_json(root / "training" / "grpo_binary" / "summary.json", {
        "reward": {"kind": "binary_threshold", "threshold": 1.9, "threshold_source": "config"},
        "frac_reward_zero_std_mean": 0.31, "frac_reward_zero_std_max": 0.5,
    })
    atomic_write_json(root / "models" / "grpo_binary" / "sycolab_model.json", {
        "name": "grpo_binary", "method": "grpo", "parent": "sft", "adapter": False, "base_model": None,
        "params": {"num_generations": 8, "reward": "binary_threshold"}, "created": "2026-01-01T00:00:09+00:00",
    })
    data = StudyData.read(root)
    table = reward_calibration_table(data, _training_logs(data))
    assert table is not None
    cells = {row[0].text: [c.text for c in row[1:]] for row in table.rows}
    assert list(cells) == ["-1.000", "-0.500", "0.000", "0.500", "1.000", "1.500", "1.900", "2.000", "2.500", "3.000"]
    # the run's threshold 1.9 is not on the grid: its row is computed from the stored scores (2 of 5 above)
    assert cells["1.900"] == ["0.400", "0.0175", "grpo_binary: 0.310 / 0.500"]
    assert cells["1.000"] == ["0.400", "0.0175", ""]
    assert table.rows[0][1].detail == "4 of 5"


def test_no_reward_model_no_table(tmp_path) -> None:
    data = StudyData.read(write_fake_study(tmp_path))
    assert reward_calibration_table(data, _training_logs(data)) is None
