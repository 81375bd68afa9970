"""Stage keys, resume and status, on a store with scripted stages (no training)."""

from __future__ import annotations

import pytest

from sycolab.store import RunStore, code_version
from sycolab.study.stages import (
    Stage,
    StageOutcome,
    code_mismatch,
    run_stage,
    skip_notes,
    stage_key,
    stage_status,
    thread_mismatch,
)


def _stage(name, slice_, upstream, calls, fail=False):
    def run():
        calls.append(name)
        if fail:
            raise RuntimeError("boom")
        return {"value": 1}
    return Stage(name, slice_, upstream, run)


def test_stage_key_depends_on_config_and_upstream():
    assert stage_key({"a": 1}, {}) == stage_key({"a": 1}, {})
    assert stage_key({"a": 1}, {}) != stage_key({"a": 2}, {})
    assert stage_key({"a": 1}, {"up": "k1"}) != stage_key({"a": 1}, {"up": "k2"})


def test_finished_stage_is_skipped_and_changed_one_redone(tmp_path):
    store, calls = RunStore(tmp_path), []
    keys: dict[str, str] = {}
    assert run_stage(store, _stage("world", {"seed": 1}, [], calls), keys).status == "done"
    assert run_stage(store, _stage("base", {"lr": 1}, ["world"], calls), keys).status == "done"
    keys = {}
    assert run_stage(store, _stage("world", {"seed": 1}, [], calls), keys).status == "skipped"
    assert run_stage(store, _stage("base", {"lr": 1}, ["world"], calls), keys).status == "skipped"
    assert calls == ["world", "base"]
    keys = {}
    run_stage(store, _stage("world", {"seed": 2}, [], calls), keys)  # upstream changes ...
    states = {name: state for name, state, _ in stage_status(store)}
    assert states == {"world": "done", "base": "stale"}
    assert run_stage(store, _stage("base", {"lr": 1}, ["world"], calls), keys).status == "done"  # ... so base reruns
    assert calls == ["world", "base", "world", "base"]


def test_failed_or_interrupted_stage_is_redone(tmp_path):
    store, calls, keys = RunStore(tmp_path), [], {}
    with pytest.raises(RuntimeError):
        run_stage(store, _stage("base", {}, [], calls, fail=True), keys)
    assert store.stage("base")["status"] == "failed"
    store.begin_stage("probe", "k", {})  # a stage left "running" by a process that no longer exists
    with store._locked_manifest() as m:
        m["stages"]["probe"]["pid"] = 2**22 + 12345
    states = {name: state for name, state, _ in stage_status(store, expected=["base", "probe", "report"])}
    assert states == {"base": "failed", "probe": "interrupted", "report": "missing"}
    assert run_stage(store, _stage("base", {}, [], calls), {}).status == "done"


def test_a_finished_stage_records_the_torch_thread_count_it_ran_with(tmp_path):
    """The thread count changes a trained model's floats, so each stage's info holds the count of the process
    that ran it, beside its time (a resumed run dir can mix counts)."""
    import torch

    store, calls = RunStore(tmp_path), []
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        run_stage(store, _stage("base", {"lr": 1}, [], calls), {})
        torch.set_num_threads(2)
        run_stage(store, _stage("sft", {"lr": 1}, [], calls), {})
    finally:
        torch.set_num_threads(before)
    assert store.stage("base")["info"] == {"seconds": store.stage("base")["info"]["seconds"], "torch_threads": 1,
                                           "code": code_version(), "value": 1}
    assert store.stage("sft")["info"]["torch_threads"] == 2


def test_a_skipped_stage_recorded_at_another_thread_count_says_so():
    import torch

    now = torch.get_num_threads()
    other = now + 1
    skipped = StageOutcome("train:dpo", "skipped", 0.0, {"seconds": 3.0, "torch_threads": other})
    assert thread_mismatch(skipped) == f"; ran at {other} torch threads, this process has {now}"
    assert thread_mismatch(StageOutcome("train:dpo", "skipped", 0.0, {"torch_threads": now})) == ""
    assert thread_mismatch(StageOutcome("train:dpo", "done", 3.0, {"torch_threads": other})) == ""  # ran here
    assert thread_mismatch(StageOutcome("world", "skipped", 0.0, {"seconds": 0.3})) == ""  # loaded no torch


def test_a_stage_records_the_code_that_computed_it_and_a_skip_under_other_code_says_so():
    """`code_version` is sycolab's version and, in this checkout, the last commit of the package's folder; a
    skipped stage that other code computed names both versions, one this code computed names none."""
    import re

    from sycolab.store import code_version

    now = code_version()
    assert re.fullmatch(r"\S+( \([0-9a-f]{12}(, uncommitted changes)?\))?", now), now
    older = StageOutcome("train:dpo", "skipped", 0.0, {"seconds": 3.0, "code": "0.0.9 (0123456789ab)"})
    assert code_mismatch(older) == f"; computed by sycolab 0.0.9 (0123456789ab), this is {now}"
    assert code_mismatch(StageOutcome("train:dpo", "skipped", 0.0, {"code": now})) == ""
    assert code_mismatch(StageOutcome("train:dpo", "done", 3.0, {"code": "0.0.9"})) == ""  # ran here
    assert code_mismatch(StageOutcome("world", "skipped", 0.0, {"seconds": 0.3})) == ""  # recorded before
    assert skip_notes(older) == code_mismatch(older)
