"""Bad inputs are refused up front: exit code 2, one line on stderr naming the place, no traceback, and
nothing written. Each case is one of issue #12's measured defects (a traceback, or a problem found only
stages later), run through `sycolab.cli.main.main` in a tmp folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sycolab.cli.main import main
from sycolab.config import load_config
from sycolab.errors import UserError
from sycolab.store import RunStore
from sycolab.study.pipeline import Study

Case = Callable[[Path], tuple[list[str], list[str]]]  # tmp folder -> (argv, words the error line must hold)


def _config(tmp: Path, text: str) -> str:
    path = tmp / "study.yaml"
    path.write_text(text)
    return str(path)


def _run(tmp: Path, text: str) -> list[str]:
    return ["run", _config(tmp, text), "--run-dir", str(tmp / "run")]


def _run_dir(tmp: Path, config: dict | None = None) -> Path:
    """A run dir as `sycolab run` leaves it: a manifest with the resolved config."""
    root = tmp / "run"
    root.mkdir()
    (root / "manifest.json").write_text(json.dumps({"config": config or {}, "stages": {}}))
    return root


def config_is_a_folder(tmp: Path):
    (tmp / "cfg").mkdir()
    return ["run", str(tmp / "cfg"), "--run-dir", str(tmp / "run")], [str(tmp / "cfg"), "is a directory"]


def config_not_utf8(tmp: Path):
    path = tmp / "study.yaml"
    path.write_bytes(b"name: x\nseed: 1 # caf\xe9\n")
    return ["run", str(path), "--run-dir", str(tmp / "run")], [f"{path}:2", "not UTF-8"]


def hidden_size_not_divisible_by_heads(tmp: Path):
    argv = _run(tmp, "base:\n  tiny:\n    hidden_size: 130\n    num_attention_heads: 4\n")
    return argv, ["study.yaml", "line 3", "base.tiny.hidden_size", "130", "not divisible"]


def negative_seed(tmp: Path):
    return _run(tmp, "name: x\nseed: -1\n"), ["study.yaml", "line 2", "seed"]


def negative_world_seed(tmp: Path):
    return _run(tmp, "world:\n  seed: -3\n"), ["study.yaml", "line 2", "world.seed", "-3"]


def data_answer_is_a_folder(tmp: Path):
    (tmp / "answers").mkdir()
    return _run(tmp, f"data:\n  answer: {tmp / 'answers'}\n"), ["line 2", "data.answer", "is a directory"]


def data_file_not_utf8(tmp: Path):
    bad = tmp / "pairs.jsonl"
    bad.write_bytes(b'\n{"prompt": "\xff"}\n')
    return _run(tmp, f"data:\n  preference: {bad}\n"), ["data.preference", f"{bad}:2", "not UTF-8"]


def eval_data_not_utf8(tmp: Path):
    root = _run_dir(tmp)
    bad = tmp / "answer.jsonl"
    bad.write_bytes(b"\xfe\xff{}\n")
    return ["eval", str(root), "--data", str(bad)], [f"{bad}:1", "not UTF-8"]


def run_dir_is_a_file(tmp: Path):
    (tmp / "taken").write_text("keep me")
    return ["run", "configs/tiny.yaml", "--run-dir", str(tmp / "taken")], ["--run-dir", "is a file"]


def run_dir_under_a_file(tmp: Path):
    (tmp / "taken").write_text("keep me")
    return ["run", "configs/tiny.yaml", "--run-dir", str(tmp / "taken" / "run")], ["--run-dir", "is a file"]


def world_out_is_a_file(tmp: Path):
    (tmp / "taken").write_text("keep me")
    return ["world", "--out", str(tmp / "taken")], ["--out", "is a file"]


def world_seed_negative(tmp: Path):
    return ["world", "--seed", "-1", "--out", str(tmp / "w")], ["--seed", "-1"]


def serve_folder_without_a_model(tmp: Path):
    (tmp / "empty").mkdir()
    return ["serve", str(tmp / "empty"), "--port", "0"], [str(tmp / "empty"), "no weights"]


def serve_missing_folder(tmp: Path):
    return ["serve", str(tmp / "nope"), "--port", "0"], [str(tmp / "nope"), "not found"]


def serve_port_out_of_range(tmp: Path):
    (tmp / "empty").mkdir()
    return ["serve", str(tmp / "empty"), "--port", "99999"], ["--port", "99999", "0..65535"]


def adapter_whose_base_is_gone(tmp: Path):
    """An adapter stored in a run dir that was moved: its recorded base folder no longer exists."""
    from sycolab.world import WorldConfig, generate_world

    root = _run_dir(tmp)
    generate_world(WorldConfig(seed=0), root / "world")
    sft = root / "models" / "sft"
    sft.mkdir(parents=True)
    (sft / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "base_model_name_or_path": str(tmp / "elsewhere" / "models" / "base"),
    }))
    (sft / "sycolab_model.json").write_text(json.dumps({
        "name": "sft", "method": "sft", "parent": "base", "adapter": True, "params": {}, "created": "x",
    }))
    return ["eval", str(root), "--model", "sft"], ["models/sft", "its base model", "was not found"]


TRACEBACK_CASES: list[Case] = [
    config_is_a_folder, config_not_utf8, hidden_size_not_divisible_by_heads, negative_seed, negative_world_seed,
    data_answer_is_a_folder, data_file_not_utf8, eval_data_not_utf8, run_dir_is_a_file, run_dir_under_a_file,
    world_out_is_a_file, world_seed_negative, serve_folder_without_a_model, serve_missing_folder,
    serve_port_out_of_range, adapter_whose_base_is_gone,
]


def sweep_in_induce(tmp: Path):
    argv = _run(tmp, "induce:\n  learning_rate: [1.0e-3, 1.0e-2]\n")
    return argv, ["line 1", "induce", "sweep is not allowed"]


def induce_is_a_list(tmp: Path):
    return _run(tmp, "induce:\n  - learning_rate: 1.0e-3\n"), ["line 1", "induce", "dictionary"]


def unset_judge_key(tmp: Path):  # the test unsets SYCOLAB_TEST_JUDGE_KEY
    text = ("evaluate:\n  judge:\n    kind: openai\n    base_url: http://127.0.0.1:9/v1\n    model: judge\n"
            "    api_key_env: SYCOLAB_TEST_JUDGE_KEY\n")
    return _run(tmp, text), ["line 6", "evaluate.judge.api_key_env", "SYCOLAB_TEST_JUDGE_KEY", "not set"]


def probe_layer_beyond_the_tiny_model(tmp: Path):
    argv = _run(tmp, "base:\n  tiny: {num_layers: 4}\nprobe:\n  layers: [0, 99]\n")
    return argv, ["line 4", "probe.layers", "[99]", "0..3"]


def steering_layer_beyond_the_tiny_model(tmp: Path):
    return _run(tmp, "probe:\n  steering:\n    layer: 7\n"), ["line 3", "probe.steering.layer", "7"]


def probe_layer_beyond_a_local_checkpoint(tmp: Path):
    ckpt = tmp / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({"model_type": "qwen3", "num_hidden_layers": 2}))
    text = f"base:\n  model: {ckpt}\ninduce: {{}}\nprobe:\n  layers: [2]\n"
    return _run(tmp, text), ["line 5", "probe.layers", "[2]", "0..1"]


def unknown_transfer_source(tmp: Path):
    text = "recover:\n  dpo: {beta: 0.1}\nprobe:\n  transfer_from: spf\n"
    return _run(tmp, text), ["line 4", "probe.transfer_from", "'spf'", "base, sft, dpo"]


def zero_max_steps(tmp: Path):
    return _run(tmp, "recover:\n  dpo:\n    max_steps: 0\n"), ["line 3", "recover.dpo.max_steps", "-1"]


def recover_entry_is_a_path(tmp: Path):
    return _run(tmp, "recover:\n  ../../x: {method: dpo}\n"), ["line 2", "recover.", "'../../x'", "'/'"]


def recover_entry_is_absolute(tmp: Path):
    return _run(tmp, f"recover:\n  {tmp / 'victim'}: {{method: dpo}}\n"), ["line 2", "recover.", "'/'"]


def sweep_cell_is_not_a_name(tmp: Path):
    text = "recover:\n  grpo:\n    vllm_server_base_url: [http://a/x, http://b/y]\n"
    return _run(tmp, text), ["recover.grpo", "sweep cell", "'/:'"]


def study_name_empty(tmp: Path):
    return ["run", _config(tmp, 'name: ""\n')], ["line 1", "name", "non-empty"]


def study_name_is_a_path(tmp: Path):
    return ["run", _config(tmp, "name: ../../x\n")], ["line 1", "name", "'/'"]


def base_model_not_found(tmp: Path):
    return _run(tmp, f"base:\n  model: {tmp / 'nowhere'}\ninduce: {{}}\n"), ["line 2", "base.model", "not found"]


def hf_judge_model_not_found(tmp: Path):
    text = f"evaluate:\n  judge:\n    kind: hf\n    model_path: {tmp / 'judge'}\n"
    return _run(tmp, text), ["line 4", "evaluate.judge.model_path", "not found"]


def accelerate_config_not_found(tmp: Path):
    text = "execution:\n  launcher: accelerate\n  accelerate_config: nope.yaml\n"
    return _run(tmp, text), ["line 3", "execution.accelerate_config", "'nope.yaml'", "shipped"]


def train_with_bad_data(tmp: Path):
    bad = tmp / "sft.jsonl"
    bad.write_bytes(b"\x80\n")
    argv = ["train", "dpo", "--config", _config(tmp, f"data:\n  sft: {bad}\n"), "--run-dir", str(tmp / "run")]
    return argv, ["line 2", "data.sft", f"{bad}:1", "not UTF-8"]


LATE_CASES: list[Case] = [
    sweep_in_induce, induce_is_a_list, unset_judge_key, probe_layer_beyond_the_tiny_model,
    steering_layer_beyond_the_tiny_model, probe_layer_beyond_a_local_checkpoint, unknown_transfer_source,
    zero_max_steps, recover_entry_is_a_path, recover_entry_is_absolute, sweep_cell_is_not_a_name,
    study_name_empty, study_name_is_a_path, base_model_not_found, hf_judge_model_not_found,
    accelerate_config_not_found, train_with_bad_data,
]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", TRACEBACK_CASES + LATE_CASES, ids=lambda c: c.__name__)
def test_bad_input_is_one_line_exit_2(case: Case, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # configs/tiny.yaml; `runs/` must not appear
    monkeypatch.delenv("SYCOLAB_TEST_JUDGE_KEY", raising=False)
    argv, needles = case(tmp_path)
    before = _files(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    if case is not adapter_whose_base_is_gone:  # eval records the failed stage in the manifest
        assert _files(tmp_path) == before  # nothing written, nothing replaced
    assert not Path("runs/x").exists()


def test_schema_and_method_problems_at_once(tmp_path: Path) -> None:
    path = _config(tmp_path, "name: a/b\nseed: -1\ninduce:\n  max_steps: 0\nrecover:\n  ../x: {}\n")
    with pytest.raises(UserError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: 4 problem(s)")
    assert [p.split(": ", 2)[:2] for p in e.value.problems] == [
        ["line 1", "name"], ["line 2", "seed"], ["line 4", "induce.max_steps"], ["line 6", "recover.../x"]]


def test_cross_field_problems_reported_together(tmp_path: Path) -> None:
    path = _config(tmp_path, "base:\n  tiny: {hidden_size: 130}\nprobe:\n  layers: [9]\n  transfer_from: nobody\n")
    with pytest.raises(UserError) as e:
        load_config(path)
    assert [p.split(": ", 2)[1] for p in e.value.problems] == ["base.tiny.hidden_size", "probe.layers", "probe.transfer_from"]
    assert [p.split(":")[0] for p in e.value.problems] == ["line 2", "line 4", "line 5"]


def test_probe_stage_checks_layers_against_the_stored_base_before_any_work(tmp_path: Path) -> None:
    """A hub base whose config.json was not local at validation: the probe stage checks it first."""
    from sycolab.study.probe import check_probe_layers

    cfg = load_config(_config(tmp_path, "base:\n  model: org/not-cached\ninduce: {}\nprobe:\n  layers: [3]\n"))
    store = RunStore(tmp_path / "run")
    base = store.model_dir("base")
    base.mkdir(parents=True)
    (base / "config.json").write_text(json.dumps({"model_type": "qwen3", "num_hidden_layers": 3}))
    with pytest.raises(UserError, match=r"line 5: probe.layers: \[3\] out of range.*0\.\.2"):
        check_probe_layers(Study(cfg, store).probe_context())
    (base / "config.json").write_text(json.dumps({"model_type": "qwen3", "num_hidden_layers": 4}))
    check_probe_layers(Study(cfg, store).probe_context())


@pytest.mark.parametrize("name", ["../../x", "/tmp/victim", "", ".", "..", "a/b", "nul\0"])
def test_store_paths_stay_inside_the_run_dir(tmp_path: Path, name: str) -> None:
    store = RunStore(tmp_path / "run")
    for folder in (store.model_dir, store.training_dir, store.eval_dir):
        with pytest.raises(UserError, match="not a plain name"):
            folder(name)
    assert store.model_dir("ipo[beta=0.5,lr=5e-06]") == tmp_path / "run" / "models" / "ipo[beta=0.5,lr=5e-06]"
