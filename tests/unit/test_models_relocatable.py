"""A run dir copied or moved elsewhere still loads its adapter models, from any working directory:
the base is found beside the model folder, not through the working directory the study ran in."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from _adapter_store import logits, save_adapter, save_base

from sycolab.errors import UserError
from sycolab.models.load import adapter_base, load_model, stored_model_source

IDS = [1, 6, 7, 8, 9, 10]


@pytest.fixture
def run_dir(tmp_path):
    """tmp/study/runs/tiny with models/base and an adapter models/sft saved from tmp/study (relative run dir)."""
    study_cwd = tmp_path / "study"
    run = study_cwd / "runs" / "tiny"
    base = save_base(run / "models" / "base")
    save_adapter(run / "models" / "sft", base.relative_to(study_cwd), seed=1, stage_key="k1", cwd=study_cwd)
    config = json.loads((run / "models" / "sft" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "runs/tiny/models/base"  # as PEFT wrote it: cwd-relative
    return run


def test_copied_run_dir_loads_adapter_from_another_directory(run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(run_dir.parent.parent)
    expected = logits(load_model(run_dir / "models" / "sft"), IDS)
    copy = tmp_path / "moved" / "copy"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(run_dir)  # the original is gone: nothing may still point at it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    model = load_model(copy / "models" / "sft")
    assert torch.allclose(logits(model, IDS), expected, atol=1e-6)
    assert adapter_base(copy / "models" / "sft") == str((copy / "models" / "base").resolve())


def test_old_record_with_working_directory_path_resolves_inside_the_run_dir(run_dir, tmp_path, monkeypatch):
    record = run_dir / "models" / "sft" / "sycolab_model.json"
    data = json.loads(record.read_text())
    assert data["base_model"] == "../base"  # written relative to the model folder
    data["base_model"] = "runs/tiny/models/base"  # how older versions wrote it
    record.write_text(json.dumps(data))
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    monkeypatch.chdir(tmp_path)
    assert adapter_base(copy / "models" / "sft") == str((copy / "models" / "base").resolve())


def test_hub_base_of_a_weightless_model_folder_is_kept(tmp_path):
    folder = tmp_path / "models" / "base"
    folder.mkdir(parents=True)
    (folder / "sycolab_model.json").write_text(json.dumps({"name": "base", "base_model": "Qwen/Qwen3-8B"}))
    assert stored_model_source(folder) == "Qwen/Qwen3-8B"


def test_missing_base_is_a_user_error_naming_the_model(run_dir, monkeypatch, tmp_path):
    shutil.rmtree(run_dir / "models" / "base")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="base model .* was not found"):
        adapter_base(run_dir / "models" / "sft")


def test_record_names_bases_inside_the_run_dir_relatively_and_outside_absolutely(tmp_path):
    from sycolab.models.load import relative_base_model

    run = tmp_path / "run"
    (run / "training" / "dpo" / "merged_sft").mkdir(parents=True)
    outside = tmp_path / "checkpoints" / "qwen"
    outside.mkdir(parents=True)
    model = run / "models" / "dpo"
    assert relative_base_model(run / "training" / "dpo" / "merged_sft", model) == "../../training/dpo/merged_sft"
    assert relative_base_model(outside, model) == str(outside.resolve())
    assert relative_base_model("Qwen/Qwen3-8B", model) == "Qwen/Qwen3-8B"
