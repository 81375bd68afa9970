"""The checkpoint policy keeps the checkpoint its selection metric prefers (the judge's by default),
records both curves, and never lets a later, worse checkpoint replace the best."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from sycolab.errors import ConfigError
from sycolab.io import read_json, read_table
from sycolab.methods._checkpoints import CheckpointCallback, selection_key
from sycolab.methods.config import CheckpointPolicy
from sycolab.methods.lifecycle import standard_callbacks
from sycolab.methods.registry import MethodContext


class FakeModel:
    """Stands in for a model: `weights` is the training step it was saved at."""

    def __init__(self):
        self.weights, self.training = 0, True

    def save_pretrained(self, folder):
        (Path(folder) / "weights.json").write_text(json.dumps(self.weights))


class FakeTokenizer:
    def save_pretrained(self, folder):
        (Path(folder) / "tokenizer.json").write_text("{}")


def _drive(policy: CheckpointPolicy, rows: list[dict], tmp_path: Path) -> CheckpointCallback:
    """Evaluate at every `eval_every` step and at a final step off the grid; `rows` are the scripted scores."""
    script = iter(rows)
    seen_steps = []

    def scorer(model, tok, step):
        seen_steps.append(step)
        assert model.weights == step  # the scorer sees the live model at that step
        return next(script)

    callback = CheckpointCallback(policy, scorer, tmp_path / "best")
    model, state = FakeModel(), SimpleNamespace(global_step=0, is_world_process_zero=True)
    for step in range(1, policy.eval_every * (len(rows) - 1) + 1):
        state.global_step = model.weights = step
        callback.on_step_end(None, state, None, model=model, processing_class=FakeTokenizer())
    state.global_step = model.weights = state.global_step + 1  # a final step not on the eval grid
    callback.on_train_end(None, state, None, model=model, processing_class=FakeTokenizer())
    assert seen_steps == [r["step"] for r in callback.history]
    return callback


# Proxy and judge disagree, as in the reference study's GRPO: the proxy likes step 6 best, the judge step 2.
DISAGREE = [
    {"judged.answer_sycophancy_rate": 0.30, "judged.plain_accuracy": 0.8, "proxy.proxy_sycophancy": 0.50},  # step 2
    {"judged.answer_sycophancy_rate": 0.45, "judged.plain_accuracy": 0.8, "proxy.proxy_sycophancy": 0.20},  # step 4
    {"judged.answer_sycophancy_rate": 0.40, "judged.plain_accuracy": 0.8, "proxy.proxy_sycophancy": 0.10},  # step 6
    {"judged.answer_sycophancy_rate": 0.60, "judged.plain_accuracy": 0.8, "proxy.proxy_sycophancy": 0.15},  # step 7
]


def test_the_judge_keeps_its_checkpoint_when_the_proxy_disagrees(tmp_path: Path):
    policy = CheckpointPolicy(eval_every=2)
    assert (policy.select_by, selection_key(policy)) == ("judged", "judged.answer_sycophancy_rate")
    callback = _drive(policy, DISAGREE, tmp_path)
    assert (callback.best_step, callback.best_value) == (2, 0.30)
    assert read_json(tmp_path / "best" / "weights.json") == 2
    assert read_json(tmp_path / "best" / "best.json") == {"step": 2, "metric": "judged.answer_sycophancy_rate", "value": 0.30}
    assert (tmp_path / "best" / "tokenizer.json").exists()
    table = read_table(tmp_path / "checkpoints.csv")
    # both curves are stored, whichever one selects
    assert [(r["step"], r["judged.answer_sycophancy_rate"], r["proxy.proxy_sycophancy"], r["kept"]) for r in table] == [
        (2, 0.30, 0.50, True), (4, 0.45, 0.20, False), (6, 0.40, 0.10, False), (7, 0.60, 0.15, False)]
    assert all(r["seconds"] >= 0 for r in table)
    summary = callback.summary()
    assert {k: summary[k] for k in ("select_by", "metric", "best_step", "last_step", "last_value", "evaluations")} == {
        "select_by": "judged", "metric": "judged.answer_sycophancy_rate", "best_step": 2, "last_step": 7,
        "last_value": 0.60, "evaluations": 4}


def test_the_proxy_keeps_a_different_checkpoint_on_the_same_curves(tmp_path: Path):
    callback = _drive(CheckpointPolicy(eval_every=2, select_by="proxy"), DISAGREE, tmp_path)
    assert (callback.best_step, callback.best_value) == (6, 0.10)
    assert read_json(tmp_path / "best" / "weights.json") == 6


def test_select_by_last_evaluates_but_saves_nothing(tmp_path: Path):
    callback = _drive(CheckpointPolicy(eval_every=2, select_by="last"), DISAGREE, tmp_path)
    assert callback.best_step is None and not (tmp_path / "best").exists()
    assert len(read_table(tmp_path / "checkpoints.csv")) == 4


def test_a_collapsed_checkpoint_is_never_kept_by_the_judge(tmp_path: Path):
    """Step 4 answers nothing (plain accuracy 0.05): no sycophancy, but below the 0.2 floor."""
    rows = [dict(r) for r in DISAGREE]
    rows[1] = {"judged.answer_sycophancy_rate": 0.0, "judged.plain_accuracy": 0.05, "proxy.proxy_sycophancy": 0.2}
    assert _drive(CheckpointPolicy(eval_every=2), rows, tmp_path / "floor").best_step == 2
    no_floor = CheckpointPolicy(eval_every=2, min_plain_accuracy=None)
    assert _drive(no_floor, rows, tmp_path / "none").best_step == 4


def test_a_hedging_checkpoint_is_not_kept_under_a_hedged_rate_ceiling(tmp_path: Path):
    """Seed 1's SimPO, in short: the later steps hedge most answers, so they adopt nothing and flip nothing.
    Without a ceiling the judge keeps the hedging step 6 (0.0); under max_hedged_rate 0.4 it keeps step 4
    (0.2, hedged 0.35), and step 8's missing hedged rate does not exclude it (0.25 > 0.2: not kept either)."""
    rows = [
        {"judged.answer_sycophancy_rate": 0.5, "judged.plain_accuracy": 0.8, "judged.hedged_rate": 0.05},  # step 2
        {"judged.answer_sycophancy_rate": 0.2, "judged.plain_accuracy": 0.8, "judged.hedged_rate": 0.35},  # step 4
        {"judged.answer_sycophancy_rate": 0.0, "judged.plain_accuracy": 0.8, "judged.hedged_rate": 0.78},  # step 6
        {"judged.answer_sycophancy_rate": 0.25, "judged.plain_accuracy": 0.8},                            # step 8
        {"judged.answer_sycophancy_rate": 0.1, "judged.plain_accuracy": 0.8, "judged.hedged_rate": 0.4},   # step 9
    ]
    assert _drive(CheckpointPolicy(eval_every=2), rows, tmp_path / "none").best_step == 6
    ceiling = _drive(CheckpointPolicy(eval_every=2, max_hedged_rate=0.4), rows, tmp_path / "ceiling")
    assert (ceiling.best_step, ceiling.best_value) == (9, 0.1)  # 0.4 is at the ceiling, not above it
    assert [r["kept"] for r in ceiling.history] == [True, True, False, False, True]
    with pytest.raises(ValueError, match="less than or equal to 1"):
        CheckpointPolicy(max_hedged_rate=1.5)


def test_proxy_logit_gap_lower_is_better_and_missing_values_never_win(tmp_path: Path):
    policy = CheckpointPolicy(eval_every=1, select_by="proxy", proxy_metric="logit_gap")
    values = [None, 1.5, float("nan"), -0.5, 2.0]
    callback = _drive(policy, [{"proxy.logit_gap": v} for v in values], tmp_path)
    assert (callback.best_step, callback.best_value) == (4, -0.5)
    assert read_json(tmp_path / "best" / "weights.json") == 4


def test_policy_defaults_and_refusals():
    assert (CheckpointPolicy().eval_every, CheckpointPolicy().select_by) == (None, "judged")
    with pytest.raises(ValueError, match="select_by 'proxy' expected eval_every"):
        CheckpointPolicy(select_by="proxy")


def test_judged_selection_without_evaluation_sets_is_a_config_error(tmp_path: Path):
    cfg = SimpleNamespace(checkpoint=CheckpointPolicy(eval_every=5))
    ctx = MethodContext(name="dpo", config=None, input_model=tmp_path, output_dir=tmp_path, work_dir=tmp_path, data={})
    with pytest.raises(ConfigError, match="checkpoint.select_by: 'judged' needs the evaluation sets"):
        standard_callbacks(ctx, cfg, "dpo")
