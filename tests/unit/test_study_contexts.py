"""Stage contexts (`sycolab.study.contexts`): where data sets are read from, how models load, what each stage
body is given, and that the stage modules never reach back for the `Study`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sycolab.config import validate_config
from sycolab.errors import UserError
from sycolab.store import RunStore
from sycolab.study.contexts import DataFiles, ModelLoading
from sycolab.study.pipeline import Study

STUDY_DIR = Path(__file__).resolve().parents[2] / "src" / "sycolab" / "study"


def test_data_files_prefer_the_configured_file_and_name_a_missing_one(tmp_path: Path):
    given = tmp_path / "mine.jsonl"
    given.write_text("{}\n")
    files = DataFiles({"answer": str(given), "sft": str(tmp_path / "gone.jsonl"), "proxy": None}, tmp_path / "world")
    assert files.path("answer") == given
    assert files.path("proxy") == tmp_path / "world" / "heldout" / "proxy.jsonl"  # unset: the tiny world's
    assert files.path("base_corpus") == tmp_path / "world" / "train" / "base_corpus.jsonl"  # not a data field
    assert files.location("sft") == tmp_path / "gone.jsonl"  # where it would be read from, for stage keys
    with pytest.raises(UserError, match=r"data\.sft: file '.*gone\.jsonl' not found"):
        files.path("sft")


def test_model_loading_takes_an_explicit_device_as_given():
    assert ModelLoading("bfloat16", device_setting="cpu").device == "cpu"
    assert ModelLoading("bfloat16", device_setting="cuda").device == "cuda"


def test_each_context_carries_its_own_config_section(tmp_path: Path):
    cfg = validate_config({"name": "ctx", "seed": 7, "evaluate": {"bootstrap_resamples": 33},
                           "relearn": {"enabled": True, "steps": 4, "eval_every": 2},
                           "base": {"model": "tiny", "dtype": "bfloat16"}, "execution": {"device": "cpu"}},
                          source="ctx")
    study = Study(cfg, RunStore(tmp_path / "run"), rejudge_unscored=True)
    ev = study.eval_context()
    assert ev.evaluate is cfg.evaluate and ev.evaluate.bootstrap_resamples == 33 and ev.rejudge_unscored
    assert ev.loading == ModelLoading("bfloat16", False, cfg.base.attn_implementation, "cpu")
    assert ev.data.world_dir == tmp_path / "run" / "world"
    probe = study.probe_context()
    assert probe.probe is cfg.probe and probe.models == study.evaluated_models()
    relearn = study.relearn_context()
    assert (relearn.relearn.steps, relearn.seed, relearn.induce_data) == (4, 7, ("sft", "proxy"))
    train = study.train_context()
    assert (train.seed, train.report_to, train.evaluate) == (7, ["none"], cfg.evaluate)


@pytest.mark.parametrize("module", ["contexts", "evaluate", "probe", "steer", "relearn", "training", "executors"])
def test_stage_modules_do_not_import_the_pipeline(module: str):
    """Stage bodies get a context; only `evaluate_run` (the `sycolab eval` driver) names `Study`, for typing."""
    tree = ast.parse((STUDY_DIR / f"{module}.py").read_text())
    runtime = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == "sycolab.study.pipeline"]
    typing_only = [node for node in tree.body if isinstance(node, ast.If)
                   for inner in node.body if isinstance(inner, ast.ImportFrom) and inner.module == "sycolab.study.pipeline"]
    assert len(runtime) == len(typing_only) <= (1 if module == "evaluate" else 0)
