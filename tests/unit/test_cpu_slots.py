"""CPU slots shared by a study's seed processes: at most N stages compute at once, a freed slot goes to a waiting
process before the one that freed it, a skipped stage takes none, and the slots bind only the machine that set them."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from sycolab.study.cpu_slots import SLOTS_ENV, configured_slots, cpu_slot, slots_environment
from sycolab.study.seeds import seed_processes

_HOLDER = """
import json, sys, time
from sycolab.study.cpu_slots import cpu_slot
log, name, hold, times = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
for _ in range(times):
    with cpu_slot() as index:
        start = time.time()
        time.sleep(hold)
        with open(log, "a") as fh:
            fh.write(json.dumps({"name": name, "slot": index, "start": start, "end": time.time()}) + "\\n")
"""


def _holders(tmp_path, count, specs):
    """Start one process per (name, hold seconds, times) sharing `count` slots; wait; return their log rows."""
    env = {**_env(), **slots_environment(tmp_path / "slots", count)}
    log = tmp_path / "log.jsonl"
    procs = []
    for name, hold, times in specs:
        procs.append(subprocess.Popen([sys.executable, "-c", _HOLDER, str(log), name, str(hold), str(times)], env=env))
        time.sleep(0.3)  # start in order: the first holds a slot before the next asks
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    return [json.loads(line) for line in log.read_text().splitlines()]


def _env():
    import os

    return dict(os.environ)


def test_no_more_stages_compute_at_once_than_there_are_slots(tmp_path):
    rows = _holders(tmp_path, 2, [("a", 1.0, 1), ("b", 1.0, 1), ("c", 1.0, 1)])
    assert sorted(r["name"] for r in rows) == ["a", "b", "c"]
    assert {r["slot"] for r in rows} <= {0, 1}
    for row in rows:  # at no start were two others computing
        busy = [o for o in rows if o is not row and o["start"] <= row["start"] < o["end"]]
        assert len(busy) <= 1, rows
    c = next(r for r in rows if r["name"] == "c")
    assert c["start"] >= min(r["end"] for r in rows if r["name"] != "c") - 0.05  # c waited for a freed slot


def test_a_freed_slot_goes_to_the_waiting_process_first(tmp_path):
    """One slot: a holds it for two stages in a row while b waits; b computes between a's two stages."""
    rows = _holders(tmp_path, 1, [("a", 1.0, 2), ("b", 0.5, 1)])
    assert [r["name"] for r in sorted(rows, key=lambda r: r["start"])] == ["a", "b", "a"]


def test_slots_bind_only_the_machine_that_set_them(tmp_path):
    env = slots_environment(tmp_path, 3)
    assert configured_slots(env) == (tmp_path.resolve(), 3)
    count, host = env[SLOTS_ENV].split("@")
    assert configured_slots({**env, SLOTS_ENV: f"{count}@not-{host}"}) is None  # a SLURM job on another node
    assert configured_slots({}) is None
    with cpu_slot({}) as index:  # nothing configured: no wait, no slot
        assert index is None


def test_a_skipped_stage_takes_no_slot_and_a_run_stage_waits_for_one(tmp_path, monkeypatch):
    """With the only slot held by another process, a stage already done with the same key is skipped at once,
    while a stage that must compute waits until the slot is freed; its recorded seconds exclude the wait."""
    from sycolab.store import RunStore
    from sycolab.study.stages import Stage, run_stage

    for name, value in slots_environment(tmp_path / "slots", 1).items():
        monkeypatch.setenv(name, value)
    store = RunStore(tmp_path / "run")
    store.init({}, 0)
    keys: dict[str, str] = {}
    assert run_stage(store, Stage("a", {"x": 1}, [], lambda: {"v": 1}), keys).status == "done"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path / "log.jsonl"), "h", "1.5", "1"],
                              env=_env())
    deadline = time.monotonic() + 30
    while not any((tmp_path / "slots").glob("slot-*.lock")) or not _slot_taken(tmp_path / "slots"):
        assert time.monotonic() < deadline and holder.poll() is None
        time.sleep(0.05)
    start = time.monotonic()
    assert run_stage(store, Stage("a", {"x": 1}, [], lambda: {"v": 1}), keys).status == "skipped"
    assert time.monotonic() - start < 0.5
    outcome = run_stage(store, Stage("b", {"x": 2}, [], lambda: {"v": 2}), keys)
    waited = time.monotonic() - start
    holder.wait(timeout=30)
    assert outcome.status == "done" and waited > 0.5 and outcome.seconds < 0.5


def _slot_taken(folder) -> bool:
    import fcntl

    with open(folder / "slot-0.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


@pytest.mark.parametrize(("seeds", "slots", "alive"), [(3, 2, 3), (10, 2, 3), (1, 2, 1), (2, 1, 2), (5, 4, 5)])
def test_one_more_seed_study_is_alive_than_there_are_slots(seeds, slots, alive):
    assert seed_processes(seeds, slots) == alive
