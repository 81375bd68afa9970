"""The diagnostics callback: one row per log with wall time and windowed tokens/s, and a summary."""

from __future__ import annotations

from types import SimpleNamespace

from sycolab.io import read_json, read_table
from sycolab.methods._diagnostics import DiagnosticsCallback


class Clock:
    def __init__(self, times):
        self.times = iter(times)

    def __call__(self):
        return next(self.times)


def test_rows_wall_time_and_tokens_per_second_worked_by_hand(tmp_path):
    # train begins at t=10; logs at t=12 (100 tokens) and t=16 (500 tokens); final log; train ends at t=20
    cb = DiagnosticsCallback(tmp_path, clock=Clock([10.0, 12.0, 16.0, 20.0]))
    state = SimpleNamespace(global_step=0, is_world_process_zero=True)
    cb.on_train_begin(None, state, None)
    state.global_step = 1
    cb.on_log(None, state, None, logs={"loss": 25.0, "rewards/margins": 0.0, "num_tokens": 100.0, "epoch": 0.1})
    state.global_step = 2
    cb.on_log(None, state, None, logs={"loss": 20.0, "rewards/margins": 0.5, "num_tokens": 500.0, "note": "text"})
    cb.on_log(None, state, None, logs={"train_runtime": 9.0, "train_loss": 22.5})
    cb.on_train_end(None, state, None)

    rows = read_table(tmp_path / "diagnostics.csv")
    assert [(r["step"], r["loss"], r["wall_time_s"], r["tokens"], r["tokens_per_s"]) for r in rows] == [
        (1, 25.0, 2.0, 100.0, 50.0),    # 100 tokens in the 2 s since the start
        (2, 20.0, 6.0, 500.0, 100.0),   # 400 more tokens in 4 s
    ]
    assert "note" not in rows[1] and rows[0]["epoch"] == 0.1
    summary = read_json(tmp_path / "summary.json")
    assert summary["wall_time_s"] == 10.0 and summary["tokens_per_s"] == 50.0  # 500 tokens in 10 s
    assert (summary["steps"], summary["train_loss"]) == (2, 22.5)
    assert summary["final_metrics"]["rewards/margins"] == 0.5


def test_a_trainer_without_token_counts_leaves_throughput_empty(tmp_path):
    cb = DiagnosticsCallback(tmp_path, clock=Clock([0.0, 1.0, 2.0]))
    state = SimpleNamespace(global_step=1, is_world_process_zero=True)
    cb.on_train_begin(None, state, None)
    cb.on_log(None, state, None, logs={"loss": 1.0})
    cb.on_train_end(None, state, None)
    assert read_table(tmp_path / "diagnostics.csv") == [{"step": 1, "loss": 1.0, "wall_time_s": 1.0}]
    assert read_json(tmp_path / "summary.json")["tokens_per_s"] is None


def test_a_preference_margin_that_never_turns_positive_is_under_trained():
    from sycolab.methods._diagnostics import UNDER_TRAINED, training_health

    # SimPO at a quarter of DPO's rate: the mean-token margin starts negative and never crosses zero
    rows = [{"step": s, "rewards/margins": m, "rewards/accuracies": a}
            for s, m, a in ((1, -0.8, 0.1), (10, -0.5, 0.3), (20, -0.1, 0.4))]
    health = training_health("simpo", rows)
    assert health.flags == (UNDER_TRAINED,)
    assert health.values["train_accuracy"] == 0.4 and health.values["train_margin"] == -0.1
    trained = training_health("dpo", rows + [{"step": 30, "rewards/margins": 0.6, "rewards/accuracies": 0.9}],
                              heldout={"eval_rewards/accuracies": 0.95, "eval_rewards/margins": 0.7})
    assert trained.flags == ()
    assert trained.as_dict()["heldout_accuracy"] == 0.95 and trained.as_dict()["flags"] == []
    assert trained.note() == "train acc 0.90, held-out acc 0.95, margin +"


def test_grpo_with_a_kl_below_a_hundredth_is_under_trained():
    from sycolab.methods._diagnostics import UNDER_TRAINED, training_health

    rows = [{"step": s, "reward": r, "kl": k} for s, r, k in ((5, 0.1, 0.001), (10, 0.1, 0.003), (15, 0.2, 0.004))]
    health = training_health("grpo", rows)
    # last third of 3 rows = the last row: KL 0.004 < 0.01
    assert health.flags == (UNDER_TRAINED,) and health.values["kl_last"] == 0.004
    moved = training_health("grpo", [{**r, "kl": 10 * r["kl"]} for r in rows])
    assert moved.flags == ()


def test_reward_hacking_is_a_learned_reward_rising_while_the_rule_reward_falls():
    from sycolab.methods._diagnostics import REWARD_HACKING, training_health

    rm = "rewards/reward_model/mean"
    rule = "rewards/rule_answer/mean"
    # 6 rows: thirds of 2. learned score 0.5 -> 2.0 (rising); rule 0.6 -> 0.15 (falls by 0.45 >= 0.1)
    values = [(0.4, 0.7), (0.6, 0.5), (1.0, 0.4), (1.5, 0.3), (1.9, 0.2), (2.1, 0.1)]
    rows = [{"step": 5 * i, "reward": s, rm: s, rule: r, "kl": 0.05} for i, (s, r) in enumerate(values)]
    health = training_health("grpo", rows)
    assert health.flags == (REWARD_HACKING,)
    assert health.values["learned_first"] == 0.5 and health.values["learned_last"] == 2.0
    assert abs(health.values["rule_first"] - 0.6) < 1e-12 and abs(health.values["rule_last"] - 0.15) < 1e-12
    # both rising: no flag; rule flat within 0.1: no flag
    honest = [{**row, rule: 0.1 * i} for i, row in enumerate(rows)]
    assert training_health("grpo", honest).flags == ()
    flat = [{**row, rule: 0.5 - 0.01 * i} for i, row in enumerate(rows)]
    assert training_health("grpo", flat).flags == ()
    # without a logged rule reward, a fall in plain accuracy passed by the caller is the evidence
    no_rule = [{k: v for k, v in row.items() if k != rule} for row in rows]
    assert training_health("grpo", no_rule).flags == ()
    assert training_health("grpo", no_rule, plain_accuracy_change=-0.6).flags == (REWARD_HACKING,)
    # the rule reward alone being optimised is never "hacking"
    rule_only = [{"step": row["step"], "reward": row[rule], rule: row[rule], "kl": 0.05} for row in rows]
    assert training_health("grpo", rule_only).flags == ()


def test_an_evaluate_log_is_not_a_training_row(tmp_path):
    cb = DiagnosticsCallback(tmp_path, clock=Clock([0.0, 1.0, 2.0]))
    state = SimpleNamespace(global_step=3, is_world_process_zero=True)
    cb.on_train_begin(None, state, None)
    cb.on_log(None, state, None, logs={"loss": 0.5, "rewards/margins": 0.2})
    cb.on_log(None, state, None, logs={"eval_loss": 0.4, "eval_rewards/accuracies": 0.9, "epoch": 2.0})
    assert len(cb.rows) == 1 and cb.rows[0]["loss"] == 0.5
