"""A two-cell DPO sweep through submitit's local executor: one cell's job is killed mid-training, the run
fails naming that cell only, and the resumed run redoes the killed cell and skips the finished one."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch
from _micro_parts import MICRO_MODEL, MICRO_WORLD

from sycolab.config import validate_config
from sycolab.models.load import load_model_and_tokenizer
from sycolab.store import RunStore
from sycolab.study.executors import StageJobsFailed, SubmititExecutor, make_executor
from sycolab.study.pipeline import Study, run_stage_job
from sycolab.study.stages import stage_status

pytestmark = pytest.mark.integration

STEPS = dict(max_steps=2, per_device_train_batch_size=4, logging_steps=1, max_length=64, learning_rate=1e-3)
CELLS = ("train:dpo[beta=0.1]", "train:dpo[beta=0.5]")


def _study(run_dir: Path) -> Study:
    cfg = validate_config({
        "name": "sweep", "world": MICRO_WORLD, "base": {"tiny": MICRO_MODEL, "train": STEPS}, "induce": STEPS,
        # long enough (tens of logged steps) that a job is caught mid-training
        "recover": {"dpo": dict(STEPS, max_steps=30, beta=[0.1, 0.5])},
        "execution": {"executor": "submitit", "submitit": {"cluster": "local", "timeout_min": 10}},
    })
    return Study(cfg, RunStore(run_dir))


def _kill_first_cell_mid_training(store: RunStore, deadline_s: float) -> str:
    """Wait until a sweep cell is running and has logged a training step, SIGKILL its job process."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        stages = store.read_manifest().get("stages", {})
        for name in CELLS:
            entry = stages.get(name) or {}
            logged = store.training_dir(name.removeprefix("train:")) / "diagnostics.csv"
            if entry.get("status") == "running" and logged.exists():
                os.kill(entry["pid"], signal.SIGKILL)
                return name
        time.sleep(0.05)
    raise AssertionError("no sweep cell was caught mid-training")


def test_killed_cell_fails_by_name_and_resume_redoes_only_it(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # inherited by the job processes
    torch.set_num_threads(1)
    run_dir = tmp_path / "run"
    _study(run_dir).run(groups={"world", "base", "induce"})

    study = _study(run_dir)
    executor = make_executor(study.cfg.execution, study.store, run_stage_job)
    assert isinstance(executor, SubmititExecutor) and executor.folder == run_dir / "submitit"
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            study.run(groups={"recover"})
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)

    thread = threading.Thread(target=sweep)
    thread.start()
    killed = _kill_first_cell_mid_training(study.store, deadline_s=240)
    thread.join(timeout=300)
    assert not thread.is_alive()
    survivor = next(c for c in CELLS if c != killed)

    assert len(errors) == 1 and isinstance(errors[0], StageJobsFailed)
    assert [f.name for f in errors[0].failed] == [killed]
    assert "1 of 2 submitted stage(s) failed" in str(errors[0]) and survivor not in str(errors[0])
    states = {name: state for name, state, _ in stage_status(study.store)}
    assert states[killed] == "interrupted" and states[survivor] == "done"
    finished_at = study.store.stage(survivor)["ended"]
    survivor_model = study.store.model_dir(survivor.removeprefix("train:"))
    mtime = (survivor_model / "sycolab_model.json").stat().st_mtime

    resumed = _study(run_dir)  # a fresh process would rebuild everything from the config and the store
    outcomes = {o.name: o.status for o in resumed.run(groups={"recover"})}
    assert outcomes == {survivor: "skipped", killed: "done"}
    assert resumed.store.stage(survivor)["ended"] == finished_at
    assert (survivor_model / "sycolab_model.json").stat().st_mtime == mtime
    states = {name: state for name, state, _ in stage_status(resumed.store)}
    assert states[killed] == "done" and states[survivor] == "done"
    for name in CELLS:
        model, _ = load_model_and_tokenizer(resumed.store.model_dir(name.removeprefix("train:")))
        assert model.config.hidden_size == 32
    # the job ran in another process: its pid is neither ours nor the killed one
    assert resumed.store.stage(killed)["pid"] != os.getpid()
