"""The stage table `sycolab run` prints: every stage's recorded wall time, their sum, and the machine."""

from __future__ import annotations

from sycolab.store import RunStore
from sycolab.study.summary import stage_table


def test_stage_table_lists_recorded_times_and_their_sum(tmp_path):
    store = RunStore(tmp_path)
    store.init({"name": "t"}, seed=0)
    for name, seconds in (("world", 0.4), ("base", 88.3), ("train:sft", 30.0)):
        store.begin_stage(name, "k", {})
        store.end_stage(name, "done", info={"seconds": seconds})
    store.begin_stage("eval:base", "k", {})
    text = stage_table(store)
    lines = text.splitlines()
    assert lines[0].startswith("Stages (wall time as measured when each ran; machine: ")
    assert "CPU cores" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert rows["world"][1:3] == ["done", "0.4"]
    assert rows["base"][1:3] == ["done", "88.3"]
    assert rows["eval:base"][1:3] == ["running", "-"]
    assert rows["total"][1] == "118.7"


def test_stage_table_shows_each_stages_recorded_thread_count(tmp_path):
    store = RunStore(tmp_path)
    store.init({"name": "t"}, seed=0)
    store.begin_stage("world", "k", {})
    store.end_stage("world", "done", info={"seconds": 0.4})
    store.begin_stage("base", "k", {})
    store.end_stage("base", "done", info={"seconds": 88.3, "torch_threads": 2})
    lines = stage_table(store).splitlines()
    assert lines[1].split() == ["stage", "status", "seconds", "threads", "ended"]
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert rows["world"][1:4] == ["done", "0.4", "-"]
    assert rows["base"][1:4] == ["done", "88.3", "2"]


def test_stage_table_names_the_code_versions_of_a_run_resumed_across_code_changes(tmp_path):
    store = RunStore(tmp_path)
    store.init({"name": "t"}, seed=0)
    for name, code in (("base", "0.1.0 (aaa)"), ("train:sft", "0.1.0 (aaa)")):
        store.begin_stage(name, "k", {})
        store.end_stage(name, "done", info={"seconds": 1.0, "code": code})
    assert "versions of sycolab's code" not in stage_table(store)
    store.begin_stage("train:dpo", "k", {})
    store.end_stage("train:dpo", "done", info={"seconds": 1.0, "code": "0.2.0 (bbb)"})
    assert stage_table(store).splitlines()[-1] == (
        "The stages were computed by 2 versions of sycolab's code: 0.1.0 (aaa); 0.2.0 (bbb) (resumed across code "
        "changes; `code` in each stage's manifest entry).")
