"""`sycolab run`'s terminal, as `make study` shows it for a study over seeds: one line per stage of each seed,
then the seed-aggregated table; library warnings, load reports and trainer logs only in each seed's log
file; no ANSI codes when output is not a terminal. Each seed is a complete run dir of its own."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.integration

STAGE_LINE = re.compile(r"  \[seed (\d)\] \[[^\]]+\] (done in \d+\.\d s|skipped \(unchanged\))")


def test_study_over_seeds_prints_one_line_per_stage_then_the_seed_table(micro_config_factory, study_cli, tmp_path):
    cfg = micro_config_factory(extra="seeds: [0, 1]\n")
    run_dir = tmp_path / "run"
    out = study_cli(cfg, run_dir)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stderr == ""
    assert "\x1b[" not in out.stdout
    assert not re.search(r"warn", out.stdout, re.I), out.stdout

    lines = out.stdout.splitlines()
    assert lines[0].startswith("sycolab: study 'micro' over seeds 0, 1 in ")
    end = next(i for i, line in enumerate(lines) if line.startswith("sycolab: finished in"))
    stage_lines = lines[1:end]
    assert all(STAGE_LINE.fullmatch(line) for line in stage_lines), stage_lines
    for seed in (0, 1):
        seed_dir = run_dir / f"seed-{seed}"
        manifest = json.loads((seed_dir / "manifest.json").read_text())
        assert (manifest["config"]["seed"], manifest["config"]["world"]["seed"]) == (seed, seed)
        assert sum(f"[seed {seed}]" in line for line in stage_lines) == len(manifest["stages"])
        assert (seed_dir / "logs" / "sycolab.log").read_text().strip()  # library output went here
        child = (seed_dir / "logs" / "terminal.log").read_text()
        assert "Stages (wall time as measured when each ran; machine:" in child
        assert not re.search(r"warn", child, re.I)
    assert "Behaviour over seeds 0, 1: mean [min, max]" in out.stdout
    assert (run_dir / "report" / "seeds.md").exists()
    # the two seeds are different studies: their worlds differ
    worlds = [(run_dir / f"seed-{s}" / "world" / "eval" / "answer.jsonl").read_bytes() for s in (0, 1)]
    assert worlds[0] != worlds[1]
