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


def test_an_evaluate_log_is_kept_apart_from_the_training_rows(tmp_path):
    """evaluate() after training logs only eval_* keys (and epoch): not a training step, not a diagnostics row."""
    cb = DiagnosticsCallback(tmp_path, clock=Clock([0.0, 1.0, 2.0]))
    state = SimpleNamespace(global_step=1, is_world_process_zero=True)
    cb.on_train_begin(None, state, None)
    cb.on_log(None, state, None, logs={"loss": 1.0})
    cb.on_log(None, state, None, logs={"eval_loss": 0.7, "eval_rewards/accuracies": 0.75, "epoch": 1.0})
    assert read_table(tmp_path / "diagnostics.csv") == [{"step": 1, "loss": 1.0, "wall_time_s": 1.0}]
    assert cb.evaluations == [{"eval_loss": 0.7, "eval_rewards/accuracies": 0.75, "epoch": 1.0}]
