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


def test_default_study_runs_constitutional_ai_and_relearns_every_model(tmp_path):
    """configs/tiny.yaml (what `make study` runs), loaded by the real loader: cai_sl and cai_dpo are recovery
    entries with the oracle critic, and the relearn stage covers SFT (step 0, the threshold's target), the
    base and every recovered causal LM, cai_* included; the report stage waits for all of them."""
    from pathlib import Path

    from sycolab.config import load_config, recover_cells
    from sycolab.store import RunStore
    from sycolab.study.pipeline import Study
    from sycolab.study.relearn import relearn_models

    cfg = load_config(Path(__file__).parents[2] / "configs" / "tiny.yaml")
    cells = {c.name: c for c in recover_cells(cfg)}
    assert {cells[m].method for m in ("cai_sl", "cai_dpo")} == {"cai_sl", "cai_dpo"}
    assert all(cells[m].config.critic.kind == "oracle" for m in ("cai_sl", "cai_dpo"))
    assert cfg.relearn.enabled and cfg.relearn.models is None
    assert evaluation_steps(cfg.relearn.steps, cfg.relearn.eval_every)[0] == 0

    study = Study(cfg, RunStore(tmp_path / "run"))
    recovered = [m for m in study.evaluated_models() if m not in ("base", "sft")]
    assert {"dpo", "ipo", "simpo", "refree_ipo", "grpo", "cai_sl", "cai_dpo"} <= set(recovered)
    assert "reward_model" not in recovered  # a scorer, not a causal LM
    assert relearn_models(study.cfg.relearn, study.evaluated_models()) == ["sft", "base", *recovered]
    stages = study.stages()
    relearn = [s.name for group, s in stages if group == "relearn"]
    assert relearn == [f"relearn:{m}" for m in ["sft", "base", *recovered]]
    report = next(s for group, s in stages if group == "report")
    assert set(relearn) <= set(report.upstream)


def test_report_table_has_sft_reference_row_and_a_row_per_relearned_model(tmp_path):
    """relearn/<model>.csv from base, dpo and SFT's step 0, written by hand: SFT's row is the reference, base
    reaches half-way to SFT (0.1 + 0.5 * (0.5 - 0.1) = 0.3) at step 20, dpo (0.2 -> target 0.35) at step 10;
    the curves figure is drawn."""
    from _fake_store import write_fake_study

    from sycolab.io import write_table
    from sycolab.reporting._results import StudyData
    from sycolab.reporting.document import Figure
    from sycolab.reporting.relearn import relearn_blocks
    from sycolab.study.relearn import COLUMNS

    root = write_fake_study(tmp_path / "run")

    def rows(model: str, points: list[tuple[int, float]]) -> list[dict]:
        return [{"model": model, "step": step, "answer_sycophancy_rate": v, "answer_sycophancy_rate_ci_low": v - 0.05,
                 "answer_sycophancy_rate_ci_high": v + 0.05, "answer_sycophancy_rate_n": 80, "flip_rate": None,
                 "proxy_sycophancy": v, "logit_gap": 1.0 - v} for step, v in points]

    write_table(root / "relearn" / "sft.csv", rows("sft", [(0, 0.5)]), COLUMNS)
    write_table(root / "relearn" / "base.csv", rows("base", [(0, 0.1), (10, 0.2), (20, 0.3)]), COLUMNS)
    write_table(root / "relearn" / "dpo.csv", rows("dpo", [(0, 0.2), (10, 0.4), (20, 0.5)]), COLUMNS)
    table, figure = relearn_blocks(StudyData.read(root), lambda name: "#000000")
    by_model = {row[0].text: [c.text for c in row[1:]] for row in table.rows}
    assert list(by_model) == ["sft", "base", "dpo"]
    assert by_model["sft"][:3] == ["0.500", "—", "reference (step 0 only)"]
    assert by_model["base"][:3] == ["0.100", "0.300", "20"] and by_model["dpo"][:3] == ["0.200", "0.500", "10"]
    assert by_model["base"][3:6] == ["—", "—", "no value"]  # flip rate never scored
    assert isinstance(figure, Figure)
