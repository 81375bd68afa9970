"""`sycolab run`'s terminal, as `make study` shows it: one line per stage, then the tables; library warnings,
load reports and trainer logs only in the run dir's log file; no ANSI codes when output is not a terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

STAGE_LINE = re.compile(r"  \[[^\]]+\] (done in \d+\.\d s|skipped \(unchanged\))")


def test_study_terminal_is_one_line_per_stage_then_tables(micro_config_factory, tmp_path):
    cfg = micro_config_factory(extra="")
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "sycolab.cli.main", "run", str(cfg), "--run-dir", str(run_dir)],
                         env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stderr == ""
    assert "\x1b[" not in out.stdout
    assert not re.search(r"warn", out.stdout, re.I), out.stdout

    lines = out.stdout.splitlines()
    assert lines[0].startswith("sycolab: study 'micro' in ")
    end = next(i for i, line in enumerate(lines) if line.startswith("sycolab: finished in"))
    stage_lines = lines[1:end]
    assert all(STAGE_LINE.fullmatch(line) for line in stage_lines), stage_lines
    stages = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert len(stage_lines) == len(stages)
    assert "Behaviour" in out.stdout and "Probing" in out.stdout

    log = (run_dir / "logs" / "sycolab.log").read_text()
    assert log.strip(), "library output should have gone to the log file"
