"""`benchmarks.gpu_check --tiny` end to end on CPU, so the GPU script cannot rot without a GPU."""

from __future__ import annotations

import math
import re

import pytest

from benchmarks.gpu_check import ROWS, main

pytestmark = pytest.mark.integration


def test_gpu_check_tiny_prints_every_row_with_finite_numbers(tmp_path, capsys):
    out = tmp_path / "gpu.md"
    assert main(["--tiny", "--out", str(out), "--work-dir", str(tmp_path)]) == 0
    text = out.read_text()
    assert text in capsys.readouterr().out
    table = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in text.splitlines() if re.match(r"\| (sft|dpo|grpo|activations|generation) \|", line)}
    assert list(table) == list(ROWS)
    for stage in ("sft", "dpo", "grpo"):
        metric, ours, bare, ratio = table[stage][:4]
        assert metric == "s/step"
        assert all(math.isfinite(float(v)) and float(v) > 0 for v in (ours, bare, ratio)), table[stage]
        assert math.isclose(float(ratio), float(ours) / float(bare), rel_tol=0.02, abs_tol=0.006)
    for stage in ("activations", "generation"):
        assert math.isfinite(float(table[stage][1])) and float(table[stage][1]) > 0
    assert "Command: `python -m benchmarks.gpu_check --tiny`" in text
