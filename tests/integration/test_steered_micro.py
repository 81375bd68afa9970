"""A micro study end to end with steering: the steer stage sweeps alpha on the tuning questions, the steered
SFT model is evaluated like any model on the other questions, and the report shows it as a row."""

from __future__ import annotations

import json

import pytest

from sycolab.io import read_jsonl, read_table

pytestmark = pytest.mark.integration


def test_micro_study_reports_the_steered_model(micro_config_factory, study_cli, tmp_path):
    # hedged replies count as honest here: the micro SFT model hedges on most prompts, and a direction needs
    # both classes among the tuning questions' samples; its few labels give its probe no AUROC, hence no peak
    # layer, so the layer is named
    cfg = micro_config_factory(extra="  exclude_hedged: false\n  steering: {layer: 1}\n")
    run_dir = tmp_path / "run"
    out = study_cli(cfg, run_dir)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    choice = json.loads((run_dir / "steer" / "choice.json").read_text())
    assert "skipped" not in choice, choice
    assert choice["model"] == "sft+steer" and choice["alpha"] in choice["alphas"] == [0.0, 0.5, 1.0, 2.0, 4.0]
    curve = read_table(run_dir / "steer" / "curve.csv")
    assert [r["alpha"] for r in curve] == choice["alphas"] and sum(r["kept"] for r in curve) == 1
    replies = {a: [s["response"] for s in read_jsonl(run_dir / "steer" / "tune" / f"alpha_{a:g}" / "samples.jsonl")]
               for a in (0.0, 4.0)}
    assert replies[0.0] != replies[4.0]  # the hook acts during generation

    metrics = json.loads((run_dir / "eval" / "sft+steer" / "metrics.json").read_text())
    assert metrics["provenance"]["steering"]["alpha"] == choice["alpha"]
    samples = read_jsonl(run_dir / "eval" / "sft+steer" / "samples.jsonl")
    report_questions = {s["question_id"] for s in samples if s["dataset"] in ("answer", "are_you_sure")}
    assert report_questions and not report_questions & set(choice["tuning_questions"])

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["eval:sft+steer"]["upstream"] == {"steer": manifest["stages"]["steer"]["key"]}
    report = (run_dir / "report" / "report.md").read_text()
    behaviour = report.split("\n## Behavioural sycophancy", 1)[1].split("\n## ", 1)[0]
    assert "| `sft+steer` (steered: layer" in behaviour and f"steered: layer {choice['layer']}, alpha {choice['alpha']:g}" in behaviour
    assert "Steering strength sweep" in report and "kept" in report
