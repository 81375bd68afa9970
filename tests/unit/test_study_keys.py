"""Stage keys see everything that decides a result: data file contents, the seed, the judge and the
generation settings. Each change re-runs exactly the dependent stages, and `stage_status` says why.
The stages' bodies are replaced by no-ops (no training): only keys and the manifest are exercised."""

from __future__ import annotations

import shutil

import pytest
from _micro_study import micro_study

from sycolab.study.evaluate import data_evaluation_key
from sycolab.study.stages import run_stage, stage_key, stage_status

ALL = ["world", "base", "train:sft", "train:dpo", "eval:base", "eval:sft", "eval:dpo", "probe", "steer", "eval:sft+steer",
       "report"]
EVALS_AND_AFTER = ["eval:base", "eval:sft", "eval:dpo", "probe", "steer", "eval:sft+steer", "report"]


def run_fake(study) -> list[str]:
    """Run every stage of `study` with a no-op body; the names of the stages that ran (not skipped)."""
    ran = []
    for _, stage in study.stages():
        if stage.name != "world":
            stage.run = dict
        if run_stage(study.store, stage, study.keys).status == "done":
            ran.append(stage.name)
    return ran


@pytest.fixture(scope="module")
def world_template(tmp_path_factory):
    """The micro world, generated once and copied into each test's run dir."""
    root = tmp_path_factory.mktemp("world")
    return micro_study(root).store.world_dir


@pytest.fixture
def finished(tmp_path, world_template):
    """A micro study whose every stage is done, evaluating on a copy of the world's answer file."""
    answer = tmp_path / "data" / "answer.jsonl"
    answer.parent.mkdir()
    shutil.copy(world_template / "eval" / "answer.jsonl", answer)
    study = micro_study(tmp_path, generate=False, data={"answer": str(answer)})
    shutil.copytree(world_template, study.store.world_dir)
    assert run_fake(study) == ALL
    assert run_fake(study) == []  # unchanged: everything skipped
    return study, answer


def _again(study, **changes):
    from _micro_study import micro_config

    from sycolab.study.pipeline import Study

    raw = {"data": study.cfg.data.model_dump(), **changes}
    return Study(micro_config(**raw), study.store)


def states(study) -> dict[str, tuple[str, str]]:
    return {name: (state, detail) for name, state, detail in stage_status(study.store, [s for _, s in study.stages()])}


def test_changed_data_file_at_same_path_reruns_exactly_its_evaluations(finished):
    study, answer = finished
    answer.write_text(answer.read_text().replace("\n", "\n\n", 1))  # same path, other bytes
    now = states(_again(study))
    assert now["eval:sft"] == ("stale", f"data file {answer} changed")
    assert now["probe"] == ("stale", f"data file {answer} changed")  # the intervention measure reads it
    assert now["report"] == ("stale", "upstream 'eval:base' is stale")
    assert {n for n, (s, _) in now.items() if s == "done"} == {"world", "base", "train:sft", "train:dpo"}
    assert run_fake(_again(study)) == EVALS_AND_AFTER


def test_changed_world_file_names_its_run_dir_relative_path(finished):
    study, _ = finished
    proxy = study.store.world_dir / "heldout" / "proxy.jsonl"
    proxy.write_text(proxy.read_text() + "\n")
    now = states(_again(study))
    assert now["eval:base"] == ("stale", "data file world/heldout/proxy.jsonl changed")
    assert now["train:sft"] == ("stale", "data file world/heldout/proxy.jsonl changed")  # checkpoint proxy


def test_changed_seed_reruns_everything_but_the_world(finished):
    study, _ = finished
    now = states(_again(study, seed=1))
    assert now["base"] == ("stale", "seed changed")
    assert now["train:sft"] == ("stale", "seed changed")
    assert now["eval:base"] == ("stale", "upstream 'base' is stale")
    assert now["world"][0] == "done"
    assert run_fake(_again(study, seed=1)) == ALL[1:]


def _world(study, **changes) -> dict:
    return {**study.cfg.world.model_dump(mode="json"), **changes}


def test_changed_sft_data_keeps_the_trained_base(finished):
    """A world setting that changes only the SFT file's rows leaves the base's corpus, vocabulary and gate world
    as they were: one trained base serves every SFT setting of a world seed."""
    study, _ = finished
    world = _world(study, sft_replay_fraction=0.5)
    ran = run_fake(_again(study, world=world))
    assert "base" not in ran and "eval:base" not in ran
    assert {"world", "train:sft", "train:dpo", "eval:sft", "report"} <= set(ran)


def test_changed_vocabulary_or_gate_reruns_the_base_and_says_why(finished):
    study, _ = finished
    sft = study.store.world_dir / "train" / "sft_sycophantic.jsonl"
    original = sft.read_text()
    sft.write_text(original.replace("the answer is", "the answer is plainly", 1))  # one new word
    assert states(_again(study))["base"] == ("stale", "the tiny tokenizer's vocabulary changed")
    sft.write_text(original.replace("\n", "\n\n", 1))  # other bytes, the same words
    assert states(_again(study))["base"][0] == "done"
    sft.write_text(original)
    gate = _world(study, gate_taught_accuracy=0.5)
    assert states(_again(study, world=gate))["base"] == ("stale", "the base gate's world or settings changed")
    reseeded = _again(study, world=_world(study, seed=1))
    assert states(reseeded)["base"][1].endswith("(reads 'world', which is stale: checked again once it is rewritten)")
    assert run_fake(reseeded)[:2] == ["world", "base"]  # a new corpus and vocabulary


def test_changed_cpu_numerics_rerun_every_model_and_say_why(finished, monkeypatch):
    """The CPU numerics (`sycolab.cpu_numerics`) enter the base stage's key, and every model descends from the
    base: a study trained with MKL's AUTO branch is not reused under the portable COMPATIBLE one."""
    study, _ = finished
    monkeypatch.setenv("MKL_CBWR", "AUTO")
    now = states(_again(study))
    assert now["base"] == ("stale", "the CPU numerics (kernel build, MKL branch: sycolab.cpu_numerics) changed")
    assert now["train:sft"] == ("stale", "upstream 'base' is stale")
    assert now["world"][0] == "done"
    assert run_fake(_again(study)) == ALL[1:]


def test_changed_judge_or_generation_reruns_evaluation_and_probe_only(finished):
    study, _ = finished
    evaluate = {**study.cfg.evaluate.model_dump(mode="json"), "judge": {"kind": "rule", "max_tokens": 32}}
    now = states(_again(study, evaluate=evaluate))
    assert now["eval:dpo"] == ("stale", "judge changed")
    assert now["probe"] == ("stale", "judge changed")
    assert now["train:dpo"][0] == "done"
    assert run_fake(_again(study, evaluate=evaluate)) == EVALS_AND_AFTER
    generation = {**evaluate, "generation": {**evaluate["generation"], "max_new_tokens": 5}}
    assert states(_again(study, evaluate=generation))["eval:base"] == ("stale", "generation settings changed")
    concurrency = {**evaluate, "judge": {"kind": "rule", "max_tokens": 32, "max_concurrency": 64}}
    assert run_fake(_again(study, evaluate=concurrency)) == []  # does not decide a verdict


def test_changed_steering_reruns_the_sweep_and_the_steered_evaluation_not_the_probes(finished):
    study, _ = finished
    probe = {**study.cfg.probe.model_dump(mode="json"), "steering": {"alphas": [0.0, 3.0]}}
    now = states(_again(study, probe=probe))
    assert now["probe"][0] == "done"
    assert now["steer"] == ("stale", "config changed")
    assert run_fake(_again(study, probe=probe)) == ["steer", "eval:sft+steer", "report"]


def test_moved_data_file_with_same_content_keeps_every_key(finished, tmp_path):
    study, answer = finished
    moved = tmp_path / "elsewhere.jsonl"
    shutil.copy(answer, moved)
    assert run_fake(_again(study, data={"answer": str(moved)})) == []


def test_stage_key_covers_data_content_and_settings_not_paths():
    data = {"answer": {"path": "a.jsonl", "sha256": "1" * 64}}
    moved = {"answer": {"path": "b/a.jsonl", "sha256": "1" * 64}}
    edited = {"answer": {"path": "a.jsonl", "sha256": "2" * 64}}
    key = stage_key({"x": 1}, {}, {"settings": {"seed": "s0"}, "data": data})
    assert key == stage_key({"x": 1}, {}, {"settings": {"seed": "s0"}, "data": moved})
    assert key != stage_key({"x": 1}, {}, {"settings": {"seed": "s0"}, "data": edited})
    assert key != stage_key({"x": 1}, {}, {"settings": {"seed": "s1"}, "data": data})
    assert stage_key({"x": 1}, {}) == stage_key({"x": 1}, {}, {})  # stages without inputs keep their keys


def test_eval_data_results_are_keyed_by_content_judge_and_generation(finished, tmp_path):
    study, answer = finished
    from sycolab.store import write_model_record

    write_model_record(study.store.model_dir("base"), "base", "sft", None, {}, weights_sha256="w1")
    key = data_evaluation_key(study.eval_context(), "base", {"answer": answer})
    copy = tmp_path / "copy.jsonl"
    shutil.copy(answer, copy)
    assert data_evaluation_key(study.eval_context(), "base", {"answer": copy}) == key
    copy.write_text(copy.read_text() + "\n")
    assert data_evaluation_key(study.eval_context(), "base", {"answer": copy}) != key
    judge = {**study.cfg.evaluate.model_dump(mode="json"), "judge": {"kind": "rule", "max_tokens": 32}}
    assert data_evaluation_key(_again(study, evaluate=judge).eval_context(), "base", {"answer": answer}) != key
    write_model_record(study.store.model_dir("base"), "base", "sft", None, {}, weights_sha256="w2")
    assert data_evaluation_key(study.eval_context(), "base", {"answer": answer}) != key  # new weights: evaluated again


def test_stage_run_by_an_older_version_is_stale_with_a_reason_that_says_so(finished):
    study, _ = finished
    with study.store._locked_manifest() as m:
        for name in ("eval:base", "train:sft"):
            entry = m["stages"][name]
            del entry["inputs"]
            entry["key"] = stage_key({"old": "scheme"}, entry["upstream"])
    now = states(study)
    older = "run by an older sycolab whose keys did not cover data files and settings; rerun to redo it"
    assert now["eval:base"] == ("stale", older)
    assert now["train:dpo"] == ("stale", "upstream 'train:sft' changed since this stage ran")


def test_a_changed_selection_slice_reruns_the_evaluations_and_only_the_methods_it_chooses_for(finished):
    study, _ = finished
    evaluate = {**study.cfg.evaluate.model_dump(mode="json"), "selection_questions": 2}
    now = states(_again(study, evaluate=evaluate))
    assert now["eval:base"] == ("stale", "config changed")  # the reported questions changed
    assert now["train:dpo"][0] == "done" and now["train:sft"][0] == "done"  # neither evaluates checkpoints
    checkpointed = {"dpo": {"max_steps": 1, "checkpoint": {"eval_every": 1}}}
    assert "train:dpo" in run_fake(_again(study, evaluate=evaluate, recover=checkpointed))
    wider = {**evaluate, "selection_questions": 3}
    now = states(_again(study, evaluate=wider, recover=checkpointed))
    assert now["train:dpo"] == ("stale", "config changed")  # its checkpoint is chosen on other questions
    assert now["train:sft"][0] == "done"


def test_status_judges_staleness_against_another_config_when_given_one(finished, tmp_path, capsys):
    """`sycolab status RUN --config C --set ...` names the stages a run of C would redo, and why; without
    --config (or with the run's own config) nothing is stale."""
    import yaml

    from sycolab.cli.main import main

    study, _ = finished
    config = tmp_path / "again.yaml"
    config.write_text(yaml.safe_dump(study.cfg.model_dump(mode="json", exclude_unset=True)))

    def status(*extra: str) -> dict[str, str]:
        assert main(["status", str(study.store.root), *extra]) == 0
        rows = [line.split(None, 2) for line in capsys.readouterr().out.splitlines()]
        return {row[0]: " ".join(row[1:]) for row in rows}

    assert {state.split()[0] for state in status("--config", str(config)).values()} == {"done"}
    changed = status("--config", str(config), "--set", "recover.dpo.beta=0.3")
    assert changed["train:dpo"] == "stale config changed"
    assert changed["eval:dpo"] == "stale upstream 'train:dpo' is stale"
    assert changed["train:sft"].startswith("done") and changed["eval:sft"].startswith("done")
    assert main(["status", str(study.store.root), "--set", "recover.dpo.beta=0.3"]) == 2
    assert "--set needs --config" in capsys.readouterr().err
