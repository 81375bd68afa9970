"""Training health flags (`sycolab.methods.health`) from synthetic diagnostics rows, worked out by hand,
and from a diagnostics.csv written and read back as the report reads it."""

from __future__ import annotations

import pytest

from sycolab.methods._rewards import rule_reward
from sycolab.methods.health import (
    COLLAPSED,
    REWARD_HACKING,
    RULE_REWARD,
    UNDER_TRAINED,
    collapse_step,
    health_kind,
    training_health,
)
from sycolab.store.records.training import TrainingLog, write_training_table


def _preference_rows(margins, accuracies=None):
    accuracies = accuracies or [0.75] * len(margins)
    return [{"step": 10 * i, "loss": 0.6, "rewards/margins": m, "rewards/accuracies": a}
            for i, (m, a) in enumerate(zip(margins, accuracies, strict=True), start=1)]


def _grpo_rows(kl, reward, learned=None, rule=None):
    rows = []
    for i, (k, r) in enumerate(zip(kl, reward, strict=True)):
        row = {"step": 5 * i, "kl": k, "reward": r}
        if learned is not None:
            row["rewards/reward_model/mean"] = learned[i]
        if rule is not None:
            row[RULE_REWARD] = rule[i]
        rows.append(row)
    return rows


def test_preference_margin_never_positive_is_under_trained():
    health = training_health("preference", _preference_rows([-0.4, -0.2, 0.0, -0.05]))
    assert health.flags == (UNDER_TRAINED,) and health.verdict == "under-trained"
    assert (health.margin_ever_positive, health.train_margin, health.train_accuracy) == (False, -0.05, 0.75)


def test_preference_margin_crossing_zero_is_ok_and_held_out_values_are_read():
    held_out = {"eval_rewards/accuracies": 0.8, "eval_rewards/margins": 0.3, "eval_loss": 0.5}
    health = training_health("preference", _preference_rows([-0.1, 0.0, 0.2, 0.4]), held_out=held_out)
    assert health.flags == () and health.verdict == "ok"
    assert (health.margin_ever_positive, health.train_margin) == (True, 0.4)
    assert (health.held_out_accuracy, health.held_out_margin) == (0.8, 0.3)


def test_preference_accuracy_at_chance_is_under_trained_though_the_margin_crossed_zero():
    # SimPO on the tiny world: the last window's margin is +0.029 by noise, its accuracy 0.4875
    health = training_health("preference", _preference_rows([-0.38, -0.15, 0.029], [0.375, 0.44, 0.4875]))
    assert health.margin_ever_positive is True and health.flags == (UNDER_TRAINED,)
    assert training_health("preference", _preference_rows([0.1], [0.5])).flags == (UNDER_TRAINED,)  # 0.5 is chance


def test_preference_without_logged_margins_is_not_judged():
    health = training_health("preference", [{"step": 1, "loss": 0.7}])
    assert health.flags == () and health.margin_ever_positive is None and health.held_out_accuracy is None


def test_grpo_kl_below_one_hundredth_is_under_trained():
    health = training_health("grpo", _grpo_rows([0.0, 0.002, 0.004, 0.003], [0.1, 0.2, 0.3, 0.4]), reward_kind="rule")
    assert health.flags == (UNDER_TRAINED,)
    assert (health.kl_max, health.kl_final) == (0.004, 0.003)
    # 4 rows: each quarter is one row
    assert (health.reward_first, health.reward_last) == (0.1, 0.4)


def test_grpo_quarters_average_the_first_and_last_quarter_of_rows():
    # 8 rows: quarters of 2; first (0.0 + 0.2) / 2 = 0.1, last (0.6 + 0.8) / 2 = 0.7; KL reaches 0.01 exactly
    kl = [0.0, 0.001, 0.002, 0.004, 0.01, 0.008, 0.006, 0.005]
    health = training_health("grpo", _grpo_rows(kl, [0.0, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.8]), reward_kind="rule")
    assert health.flags == ()
    assert health.reward_first == pytest.approx(0.1) and health.reward_last == pytest.approx(0.7)


def test_rm_score_rising_while_the_rule_reward_falls_is_reward_hacking():
    # RM score 0.1 -> 0.9 (rises); rule reward 0.5 -> 0.3 (falls by 0.2 >= 0.05)
    rows = _grpo_rows([0.02] * 4, [0.1, 0.3, 0.6, 0.9], learned=[0.1, 0.3, 0.6, 0.9], rule=[0.5, 0.45, 0.4, 0.3])
    health = training_health("grpo", rows, reward_kind="reward_model")
    assert health.flags == (REWARD_HACKING,)
    assert (health.learned_reward_first, health.learned_reward_last) == (0.1, 0.9)
    assert (health.rule_reward_first, health.rule_reward_last) == (0.5, 0.3)


def test_rm_score_and_rule_reward_both_rising_is_ok():
    rows = _grpo_rows([0.02] * 4, [0.1, 0.3, 0.6, 0.9], learned=[0.1, 0.3, 0.6, 0.9], rule=[0.1, 0.2, 0.3, 0.5])
    assert training_health("grpo", rows, reward_kind="reward_model").flags == ()


def test_a_rule_fall_below_the_tolerance_is_not_reward_hacking_but_a_plain_accuracy_fall_is():
    rows = _grpo_rows([0.02] * 4, [0.1, 0.3, 0.6, 0.9], learned=[0.1, 0.3, 0.6, 0.9], rule=[0.5, 0.5, 0.5, 0.47])
    assert training_health("grpo", rows, reward_kind="reward_model").flags == ()  # fell 0.03 < 0.05
    health = training_health("grpo", rows, reward_kind="binary_threshold", plain_accuracy_change=-0.08)
    assert health.flags == (REWARD_HACKING,) and health.plain_accuracy_change == -0.08


def test_grpo_on_the_rule_reward_is_never_reward_hacking():
    # the rule is what it optimised: a falling plain accuracy is not hacking a learned reward
    rows = _grpo_rows([0.02] * 4, [0.1, 0.3, 0.6, 0.9], rule=[0.1, 0.3, 0.6, 0.9])
    health = training_health("grpo", rows, reward_kind="rule", plain_accuracy_change=-0.2)
    assert health.flags == () and health.learned_reward_first is None and health.plain_accuracy_change is None


def test_both_flags_together_and_the_learned_reward_found_from_the_columns():
    rows = _grpo_rows([0.0, 0.001, 0.002, 0.003], [0.1, 0.2, 0.3, 0.4], learned=[0.1, 0.2, 0.3, 0.4],
                      rule=[0.4, 0.3, 0.2, 0.1])
    health = training_health("grpo", rows)  # no summary: the rewards/<f>/mean column names the learned reward
    assert health.flags == (UNDER_TRAINED, REWARD_HACKING)
    assert health.verdict == "under-trained, reward hacking"
    assert health.to_dict()["flags"] == ["under-trained", "reward hacking"]


def test_the_rule_column_is_the_one_the_rule_reward_logs():
    assert RULE_REWARD == f"rewards/{rule_reward.__name__}/mean"


def test_health_kind_reads_the_registered_traits():
    assert {m: health_kind(m) for m in ("dpo", "ipo", "simpo", "refree_ipo", "cai_dpo", "grpo")} == {
        "dpo": "preference", "ipo": "preference", "simpo": "preference", "refree_ipo": "preference",
        "cai_dpo": "preference", "grpo": "grpo"}
    assert [health_kind(m) for m in ("sft", "cai_sl", "reward_model", "no_such_method")] == [None] * 4


def test_health_from_a_diagnostics_csv_read_back_as_the_report_reads_it(tmp_path):
    """A real file: empty cells (a key one trainer step did not log) read back as None and are skipped."""
    rows = [{"step": 1, "loss": 0.69, "rewards/margins": -0.2, "rewards/accuracies": 0.4, "wall_time_s": 1.0},
            {"step": 2, "loss": 0.65, "wall_time_s": 2.0},
            {"step": 3, "loss": 0.60, "rewards/margins": 0.15, "rewards/accuracies": 0.7, "wall_time_s": 3.0}]
    write_training_table(tmp_path / "diagnostics.csv", rows)
    log = TrainingLog.read(tmp_path, "dpo")
    assert log is not None and len(log.rows) == 3 and log.rows[1]["rewards/margins"] is None
    health = training_health("preference", log.rows)
    assert (health.train_margin, health.train_accuracy, health.margin_ever_positive, health.flags) == (0.15, 0.7, True, ())


def test_collapse_is_the_first_checkpoint_below_half_the_best_earlier_slice_accuracy():
    # session 8's reference-free IPO, seed 1 (its checkpoints.csv): 0.750 at step 20, 0.625 at 40, 0.208 at 60
    # (< 0.375), then 0.042, 0.167, 0.125
    steps, accuracy = [20.0, 40.0, 60.0, 80.0, 100.0, 120.0], [0.75, 0.625, 0.208, 0.042, 0.167, 0.125]
    assert collapse_step({"step": steps, "judged.plain_accuracy": accuracy}) == 60
    # exactly half is not below it; a fall from a later, higher best counts; unjudged rows are skipped
    assert collapse_step({"step": [20, 40], "judged.plain_accuracy": [0.6, 0.3]}) is None
    assert collapse_step({"step": [20, 40, 60, 80], "judged.plain_accuracy": [0.4, None, 0.9, 0.44]}) == 80
    assert collapse_step({"step": [20, 40], "judged.answer_sycophancy_rate": [0.5, 0.2]}) is None
    assert collapse_step({}) is None


def test_a_collapse_adds_its_flag_and_step_to_whatever_else_was_found():
    checkpoints = {"step": [20.0, 40.0], "judged.plain_accuracy": [0.7, 0.2]}
    health = training_health("preference", _preference_rows([-0.4, -0.2]), checkpoints=checkpoints)
    assert health.flags == (UNDER_TRAINED, COLLAPSED) and health.collapse_step == 40
    assert health.verdict == "under-trained, collapsed at step 40"
    kept = training_health("grpo", _grpo_rows([0.0, 0.05], [0.1, 0.4]), reward_kind="rule",
                           checkpoints={"step": [20.0, 40.0], "judged.plain_accuracy": [0.7, 0.6]})
    assert kept.flags == () and kept.verdict == "ok" and kept.collapse_step is None
