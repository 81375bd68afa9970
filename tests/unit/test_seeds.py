"""Results over seeds: mean and range per cell, and an effect claimed only when it clears the intervals in every seed."""

from __future__ import annotations

import json

from _fake_store import METRICS, write_fake_study

from sycolab.reporting.seeds import seed_rows, seed_table_text
from sycolab.study.seeds import child_command, seed_dir


def _set_metric(root, model, metric, value, low, high):
    path = root / "eval" / model / "metrics.json"
    data = json.loads(path.read_text())
    data["metrics"][metric].update(value=value, ci_low=low, ci_high=high)
    path.write_text(json.dumps(data))


def test_mean_range_and_seeds_beyond_the_interval(tmp_path):
    runs = {0: write_fake_study(tmp_path / "seed-0"), 1: write_fake_study(tmp_path / "seed-1")}
    # seed 1: DPO's aggregate interval overlaps SFT's [0.41, 0.52], so DPO is not effective in every seed
    _set_metric(runs[1], "dpo", "aggregate_sycophancy", 0.45, 0.40, 0.50)
    _set_metric(runs[1], "base", "plain_accuracy", 0.6, 0.5, 0.7)
    rows = {r.model: r for r in seed_rows(runs)}
    assert list(rows) == ["base", "sft", "dpo"]
    assert rows["dpo"].cells["aggregate_sycophancy"].values == (0.169, 0.45)
    assert rows["dpo"].cells["aggregate_sycophancy"].text() == "0.309 [0.169, 0.450]"  # (0.169 + 0.45) / 2
    assert rows["base"].cells["plain_accuracy"].text() == "0.700 [0.600, 0.800]"
    assert rows["sft"].verdict == "induced in 2 of 2 seeds (every seed)"  # SFT [0.41, 0.52] above base [0.2, 0.31]
    dpo_acc = METRICS["dpo"]["plain_accuracy"][0]
    kept = sum(abs(dpo_acc - base) <= 0.1 for base in (0.8, 0.6))
    assert rows["dpo"].verdict == ("below SFT in 1 of 2 seeds; not effective in every seed; "
                                   f"accuracy within 0.1 of base in {kept} of 2")
    assert rows["base"].verdict == ""


def test_a_single_seed_says_it_is_not_conclusive(tmp_path):
    text = seed_table_text({0: write_fake_study(tmp_path / "seed-0")})
    assert "(single seed: not conclusive)" in text.splitlines()[0]
    assert "below SFT in 1 of 1 seeds; effective" in text


def test_each_seed_is_a_full_study_with_seed_and_world_seed_set(tmp_path):
    cmd = child_command("configs/tiny.yaml", tmp_path, 2, ["evaluate.bootstrap_resamples=10"], "eval,report", False)
    assert cmd[cmd.index("--run-dir") + 1] == str(seed_dir(tmp_path, 2)) == str(tmp_path / "seed-2")
    sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]
    assert sets == ["evaluate.bootstrap_resamples=10", "seed=2", "world.seed=2", "seeds=[]"]
    assert cmd[-2:] == ["--stages", "eval,report"]
    assert child_command("c.yaml", tmp_path, 0, [], None, True, rejudge_unscored=True)[-2:] == [
        "--force", "--rejudge-unscored"]


def test_status_and_report_of_a_study_over_seeds(tmp_path, capsys):
    from sycolab.cli.main import main
    from sycolab.io import atomic_write_json

    root = tmp_path / "run"
    write_fake_study(seed_dir(root, 0))
    atomic_write_json(root / "seeds.json", {"config": "c.yaml", "seeds": [0, 1], "overrides": []})
    assert main(["status", str(root)]) == 0
    out = capsys.readouterr().out
    assert "== seed 0" in out and "== seed 1" in out and "(not started)" in out
    assert "train:sft" in out  # seed 0's own stage list
    assert main(["report", str(root)]) == 0
    out = capsys.readouterr().out
    assert (seed_dir(root, 0) / "report" / "report.md").exists()
    assert (root / "report" / "seeds.md").exists() and "seeds.md" in out


def test_training_flags_are_counted_over_seeds(tmp_path):
    """DPO's logged margins (0.5 s > 0 in the fake store) never positive in seed 1 only: under-trained in 1 of 2."""
    from sycolab.store.records.training import write_training_table

    runs = {0: write_fake_study(tmp_path / "seed-0"), 1: write_fake_study(tmp_path / "seed-1")}
    rows = [{"step": s, "loss": 0.69, "rewards/margins": -0.1 * s, "rewards/accuracies": 0.4} for s in range(1, 6)]
    write_training_table(runs[1] / "training" / "dpo" / "diagnostics.csv", rows)
    verdict = {r.model: r.verdict for r in seed_rows(runs)}["dpo"]
    assert verdict.endswith("; under-trained in 1 of 2 seeds")
    assert "under-trained" not in {r.model: r.verdict for r in seed_rows({0: runs[0]})}["dpo"]


def test_a_seed_where_a_method_hedges_does_not_count_toward_effective(tmp_path):
    """Seed 1: DPO below SFT [0.41, 0.52] at aggregate 0.169 but hedging 0.30 of its answers against the
    base's 0.05 (a rise of 0.25 > 0.2): below SFT in 1 of 2 seeds, and in 1 more by hedging; not effective."""
    runs = {0: write_fake_study(tmp_path / "seed-0"), 1: write_fake_study(tmp_path / "seed-1")}
    _set_metric(runs[1], "dpo", "hedged_rate", 0.30, 0.2, 0.4)
    verdict = {r.model: r.verdict for r in seed_rows(runs)}["dpo"]
    assert verdict.startswith("below SFT in 1 of 2 seeds (and in 1 more by hedging); not effective in every seed")
    _set_metric(runs[1], "dpo", "hedged_rate", 0.25, 0.2, 0.3)  # a rise of exactly 0.2 is not hedging
    assert {r.model: r.verdict for r in seed_rows(runs)}["dpo"].startswith("below SFT in 2 of 2 seeds; effective")


def test_a_seed_without_an_aggregate_is_named_and_not_effective(tmp_path):
    """Seed 1: DPO's aggregate has no value or interval (a collapsed model: none of its feedback replies could be
    scored): below SFT in 1 of 2 seeds, aggregate undefined in 1; not effective."""
    runs = {0: write_fake_study(tmp_path / "seed-0"), 1: write_fake_study(tmp_path / "seed-1")}
    _set_metric(runs[1], "dpo", "aggregate_sycophancy", None, None, None)
    verdict = {r.model: r.verdict for r in seed_rows(runs)}["dpo"]
    assert verdict.startswith("below SFT in 1 of 2 seeds (aggregate undefined in 1); not effective in every seed")


def _seeds_exiting(monkeypatch, tmp_path, codes):
    """run_seeds over children that print a stage line and exit with codes[seed]."""
    import sys

    from sycolab.study import seeds as seeds_module

    def fake_command(config, run_dir, seed, *args, **kwargs):
        return [sys.executable, "-c", f"print('  [base] gate failed on seed {seed}'); raise SystemExit({codes[seed]})"]

    monkeypatch.setattr(seeds_module, "child_command", fake_command)
    return seeds_module.run_seeds("c.yaml", tmp_path, sorted(codes), [], parallel=2, say=lambda _: None)


def test_seeds_stopped_by_a_gate_or_bad_input_exit_2_any_other_failure_1(monkeypatch, tmp_path):
    import pytest

    from sycolab.errors import StageError, UserError

    with pytest.raises(UserError, match=r"2 of 3 seed studies stopped on their input or a gate") as user:
        _seeds_exiting(monkeypatch, tmp_path / "a", {0: 2, 1: 0, 2: 2})
    assert "seed 0 (exit 2" in str(user.value) and "gate failed on seed 2" in str(user.value)
    with pytest.raises(StageError, match=r"2 of 2 seed studies failed") as stage:
        _seeds_exiting(monkeypatch, tmp_path / "b", {0: 2, 1: 1})
    assert not isinstance(stage.value, UserError)
    assert [r.returncode for r in _seeds_exiting(monkeypatch, tmp_path / "c", {0: 0, 1: 0})] == [0, 0]


def test_parallel_sets_how_many_stages_compute_at_once(monkeypatch, tmp_path, capsys):
    """`sycolab run --parallel 3` hands 3 CPU slots to the seed runner (default: one per core); on a
    config without `seeds` it is a user error (exit 2) that writes nothing."""
    from sycolab.cli.main import main
    from sycolab.study import seeds as seeds_module

    handed: list[int | None] = []
    monkeypatch.setattr(seeds_module, "run_seeds", lambda *a, parallel=None, **k: handed.append(parallel) or [])
    monkeypatch.setattr(seeds_module, "write_seed_summary", lambda root, seeds: (root / "report" / "seeds.md", ""))
    monkeypatch.setattr(seeds_module, "available_cores", lambda: 2)
    config = tmp_path / "seeds.yaml"
    config.write_text("name: s\nseeds: [0, 1, 2]\n")
    assert main(["run", str(config), "--run-dir", str(tmp_path / "a"), "--parallel", "3"]) == 0
    assert main(["run", str(config), "--run-dir", str(tmp_path / "b")]) == 0
    assert handed == [3, 2]
    assert "(3 stages computing at once, 1 torch thread each)" in capsys.readouterr().out
    single = tmp_path / "one.yaml"
    single.write_text("name: one\n")
    assert main(["run", str(single), "--run-dir", str(tmp_path / "c"), "--parallel", "3"]) == 2
    assert "--parallel: this config runs one study" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


_SEED_PARENT = """
import sys, time
from pathlib import Path
from sycolab.study import seeds as seeds_module

out = Path(sys.argv[1])
def sleeper(config, run_dir, seed, *args, **kwargs):
    return [sys.executable, "-c", f"import os, time; open({str(out)!r} + '/pid-{seed}', 'w').write(str(os.getpid())); time.sleep(120)"]
seeds_module.child_command = sleeper
seeds_module.run_seeds("c.yaml", out / "run", [0, 1], [], parallel=2, say=lambda _: None)
"""


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (an orphan's zombie waits for an init that may not reap)."""
    from pathlib import Path

    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_killing_the_seed_parent_stops_its_seed_studies(tmp_path):
    """SIGKILL to `sycolab run` over seeds (no handler can run) still ends both seed children: they were started
    with PR_SET_PDEATHSIG, so no orphaned seed study goes on writing into the run store."""
    import signal
    import subprocess
    import sys
    import time

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    parent = subprocess.Popen([sys.executable, "-c", _SEED_PARENT, str(tmp_path)])
    pid_files = [tmp_path / "pid-0", tmp_path / "pid-1"]
    deadline = time.monotonic() + 60
    while not all(p.exists() and p.read_text() for p in pid_files):
        assert time.monotonic() < deadline and parent.poll() is None, "the seed children never started"
        time.sleep(0.1)
    children = [int(p.read_text()) for p in pid_files]
    assert all(_alive(pid) for pid in children)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)
