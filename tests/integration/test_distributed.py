"""Distributed training through `accelerate launch`: two CPU processes in a gloo process group train SFT and
DPO for a few steps on a micro world; both ranks must finish, only rank 0 writes the model, and the saved
model loads. Also the `sycolab train ... --launcher accelerate` path and failure reporting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from _micro_parts import MICRO_MODEL, MICRO_WORLD

from sycolab.cli.main import main as cli_main
from sycolab.config.sections import ExecutionConfig
from sycolab.errors import StageError
from sycolab.methods.registry import MethodContext, MethodSpec, get_method
from sycolab.models.load import load_model_and_tokenizer
from sycolab.models.tiny import TinyModelConfig, build_tiny_model
from sycolab.models.tokenizer import train_word_tokenizer
from sycolab.study.accelerate_launch import launch_with_accelerate, rank_reports
from sycolab.study.training import corpus_texts
from sycolab.world import WorldConfig, generate_world

pytestmark = pytest.mark.integration

FEW_STEPS = dict(max_steps=3, per_device_train_batch_size=4, logging_steps=1, max_length=64, learning_rate=1e-3)
TWO_RANKS = ExecutionConfig(launcher="accelerate", num_processes=2)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # inherited by the ranks
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def micro(tmp_path_factory) -> Path:
    """A micro world and a random 2-layer, hidden-32 Qwen3 model saved in `init/`."""
    root = tmp_path_factory.mktemp("micro")
    generate_world(WorldConfig(**MICRO_WORLD), root / "world")
    tokenizer = train_word_tokenizer(corpus_texts(sorted((root / "world").rglob("*.jsonl"))))
    model = build_tiny_model(TinyModelConfig(**MICRO_MODEL), tokenizer)
    model.save_pretrained(root / "init")
    tokenizer.save_pretrained(root / "init")
    return root


def _context(root: Path, tmp: Path, method: str, name: str) -> MethodContext:
    world = root / "world"
    return MethodContext(
        name=name, config=get_method(method).config_cls.model_validate(FEW_STEPS), input_model=root / "init",
        output_dir=tmp / "models" / name, work_dir=tmp / "training" / name,
        data={"sft": world / "train/sft_sycophantic.jsonl", "preference": world / "train/preference_pairs.jsonl",
              "proxy": world / "heldout/proxy.jsonl"},
        reference_model=root / "init" if method != "sft" else None, use_cpu=True,
    )


def _changed_tensors(a: torch.nn.Module, b: torch.nn.Module) -> int:
    sb = b.state_dict()
    return sum(not torch.equal(t, sb[k]) for k, t in a.state_dict().items())


def _assert_two_gloo_ranks(work_dir: Path) -> None:
    reports = rank_reports(work_dir)
    assert [r.rank for r in reports] == [0, 1]
    assert {(r.world_size, r.backend) for r in reports} == {(2, "gloo")}
    assert len({r.pid for r in reports}) == 2
    assert not any((work_dir / "accelerate").glob("rank*_output"))  # the non-zero rank's scratch is gone


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_two_gloo_ranks_train_and_rank0_saves(micro, tmp_path, method):
    ctx = _context(micro, tmp_path, method, method)
    launch_with_accelerate(get_method(method), ctx, TWO_RANKS)
    _assert_two_gloo_ranks(ctx.work_dir)
    model, tokenizer = load_model_and_tokenizer(ctx.output_dir)
    init, _ = load_model_and_tokenizer(micro / "init")
    assert _changed_tensors(model, init) > 0  # three optimiser steps moved the weights
    assert len(tokenizer) == len(load_model_and_tokenizer(micro / "init")[1])
    card = json.loads((ctx.output_dir / "sycolab_model.json").read_text())
    assert card["method"] == method and card["name"] == method
    steps = [row for row in (ctx.work_dir / "diagnostics.csv").read_text().splitlines()[1:] if row]
    assert len(steps) >= 3  # one row per logged step; only rank 0 writes it


def test_rank_failure_raises_with_the_root_cause(micro, tmp_path):
    spec = get_method("sft")
    ghost = MethodSpec("no_such_method", spec.config_cls, spec.run)
    ctx = _context(micro, tmp_path, "sft", "ghost")
    with pytest.raises(StageError) as info:
        launch_with_accelerate(ghost, ctx, TWO_RANKS)
    msg = str(info.value)
    assert "failed with exit code" in msg and "2 processes" in msg
    assert "KeyError: 'no_such_method'" in msg  # the ranks' own traceback, not torchrun's summary


def _study_yaml(tmp_path: Path) -> Path:
    tiny_steps = dict(FEW_STEPS, max_steps=2)
    raw = {
        "name": "dist", "world": MICRO_WORLD, "base": {"tiny": MICRO_MODEL, "train": tiny_steps},
        "induce": tiny_steps, "recover": {"dpo": dict(tiny_steps, beta=0.1)},
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_cli_train_refuses_without_upstream(tmp_path, capsys):
    code = cli_main(["train", "dpo", "--config", str(_study_yaml(tmp_path)), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "train:sft" in err and "--stages world,base,induce" in err


def test_cli_train_dpo_under_accelerate(tmp_path, capsys):
    config, run_dir = str(_study_yaml(tmp_path)), str(tmp_path / "run")
    assert cli_main(["run", config, "--run-dir", run_dir, "--stages", "world,base,induce"]) == 0
    assert cli_main(["train", "dpo", "--config", config, "--run-dir", run_dir,
                     "--launcher", "accelerate", "--num-processes", "2"]) == 0
    _assert_two_gloo_ranks(Path(run_dir) / "training" / "dpo")
    manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    assert manifest["stages"]["train:dpo"]["status"] == "done"
    model, _ = load_model_and_tokenizer(Path(run_dir) / "models" / "dpo")
    sft, _ = load_model_and_tokenizer(Path(run_dir) / "models" / "sft")
    assert _changed_tensors(model, sft) > 0
    record = json.loads((Path(run_dir) / "models" / "dpo" / "sycolab_model.json").read_text())
    assert record["parent"] == "sft"
    capsys.readouterr()
    assert cli_main(["train", "dpo", "--config", config, "--run-dir", run_dir]) == 0  # same inputs: not redone
    assert "[train:dpo] already done with the same inputs" in capsys.readouterr().out
