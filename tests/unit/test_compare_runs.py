"""tools/compare_runs.py: two runs match when only the run dir's path and timings differ."""

from __future__ import annotations

import json
from pathlib import Path

from tools.compare_runs import compare, main


def _run(root: Path, digest: str, seconds: str, auroc: str) -> Path:
    (root / "eval" / "sft").mkdir(parents=True)
    (root / "eval" / "sft" / "metrics.json").write_text(json.dumps(
        {"metrics": {"flip_rate": 0.5}, "provenance": {"weights_sha256": digest, "judge": "rule"}}))
    (root / "training" / "dpo").mkdir(parents=True)
    (root / "training" / "dpo" / "checkpoints.csv").write_text(f"step,judged.x,seconds\n20,0.25,{seconds}\n")
    (root / "probe").mkdir()
    (root / "probe" / "own_auroc.csv").write_text(f"model,auroc\nsft,{auroc}\n")
    return root


def test_digest_and_seconds_are_set_aside_and_a_changed_number_is_named(tmp_path: Path, capsys):
    a = _run(tmp_path / "a", "aaa", "1.2", "0.75")
    b = _run(tmp_path / "b", "bbb", "9.9", "0.75")
    assert compare(a, b) == (3, [])
    (b / "probe" / "own_auroc.csv").write_text("model,auroc\nsft,0.76\n")
    (b / "probe" / "labels.csv").write_text("model\nsft\n")
    assert compare(a, b) == (2, [f"only in {b}: probe/labels.csv", "differs: probe/own_auroc.csv"])
    assert main([str(a), str(b)]) == 1
    assert "identical 2, different or one-sided 2" in capsys.readouterr().out
