"""CPU slots shared by a study's seed processes: at most N stages compute at once, a freed slot goes to a waiting
process before the one that freed it, a skipped stage takes none, and the slots bind only the machine that set them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from sycolab.study.cpu_slots import SLOTS_ENV, configured_slots, cpu_slot, slots_environment
from sycolab.study.seeds import seed_processes

_HOLDER = """
import json, os, sys, time
from sycolab.study.cpu_slots import cpu_slot
log, name, hold, times = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
gate = sys.argv[5] if len(sys.argv) > 5 else None  # the first hold lasts until this file exists
for turn in range(times):
    with cpu_slot() as index:
        start = time.time()
        time.sleep(hold)
        while gate and turn == 0 and not os.path.exists(gate):
            time.sleep(0.02)
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
    """One slot: a holds it for two stages in a row; b asks while a's first stage runs (a's first stage ends
    only once b waits); b computes between a's two stages."""
    env = {**_env(), **slots_environment(tmp_path / "slots", 1)}
    log, gate = tmp_path / "log.jsonl", tmp_path / "b-waits"
    a = subprocess.Popen([sys.executable, "-c", _HOLDER, str(log), "a", "0.1", "2", str(gate)], env=env)
    _wait_for(lambda: (tmp_path / "slots").is_dir() and _slot_taken(tmp_path / "slots"), a)
    b = subprocess.Popen([sys.executable, "-c", _HOLDER, str(log), "b", "0.1", "1"], env=env)
    _wait_for(lambda: (tmp_path / "slots" / f"waiting-{b.pid}").exists(), b)
    gate.touch()
    assert a.wait(timeout=60) == 0 and b.wait(timeout=60) == 0
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["name"] for r in sorted(rows, key=lambda r: r["start"])] == ["a", "b", "a"]


def _wait_for(condition, proc, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline and proc.poll() is None, "the holder never got there"
        time.sleep(0.02)


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
    gate = tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path / "log.jsonl"), "h", "0", "1", str(gate)],
                              env=_env())
    _wait_for(lambda: (tmp_path / "slots").is_dir() and _slot_taken(tmp_path / "slots"), holder)
    start = time.monotonic()
    assert run_stage(store, Stage("a", {"x": 1}, [], lambda: {"v": 1}), keys).status == "skipped"
    assert time.monotonic() - start < 0.5
    threading.Timer(1.0, gate.touch).start()  # the holder frees the slot a second from now
    outcome = run_stage(store, Stage("b", {"x": 2}, [], lambda: {"v": 2}), keys)
    waited = time.monotonic() - start
    holder.wait(timeout=30)
    assert outcome.status == "done" and waited >= 1.0 and outcome.seconds < 0.5


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
