"""Caches keyed by what decides their content: the merged SFT by the adapter it came from, generations
by the weights digest, the logit proxy by weights and proxy data, the expected feedback ratings by weights
and rated prompts; a cached re-evaluation loads no model;
a killed writer's leftovers are swept at study start."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch
from _adapter_store import save_adapter, save_base
from _micro_study import micro_study, save_untrained_base

from sycolab.methods.config import TrainingConfig
from sycolab.methods.loading import plain_model_path
from sycolab.methods.registry import MethodContext
from sycolab.models import load
from sycolab.models.digest import MERGED_FROM, model_weights_key
from sycolab.study.evaluate import evaluate_stored_model


@pytest.fixture
def count_loads(monkeypatch):
    """Counts calls of sycolab.models.load.load_model (every model load in the package goes through it)."""
    calls: list[str] = []
    real = load.load_model

    def spy(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(load, "load_model", spy)
    return calls


def _ctx(tmp_path, input_model):
    return MethodContext(name="dpo", config=TrainingConfig(), input_model=input_model,
                         output_dir=tmp_path / "out", work_dir=tmp_path / "run" / "training" / "dpo", data={})


def test_merge_cache_is_rebuilt_when_the_sft_adapter_changed(tmp_path, count_loads):
    base = save_base(tmp_path / "run" / "models" / "base")
    sft = save_adapter(tmp_path / "run" / "models" / "sft", base, seed=1, stage_key="k1")
    merged = plain_model_path(sft, _ctx(tmp_path, sft))
    first = json.loads((merged / MERGED_FROM).read_text())
    assert first["stage_key"] == "k1" and len(count_loads) == 1
    assert plain_model_path(sft, _ctx(tmp_path, sft)) == merged and len(count_loads) == 1  # reused
    merged_digest = model_weights_key(merged)  # derived from the adapter's digest, not by hashing the merge

    save_adapter(sft, base, seed=2, stage_key="k2")  # SFT re-run: other weights, other key
    again = plain_model_path(sft, _ctx(tmp_path, sft))
    assert model_weights_key(again) != merged_digest
    assert len(count_loads) == 2 and json.loads((again / MERGED_FROM).read_text())["stage_key"] == "k2"
    from transformers import AutoModelForCausalLM

    rebuilt = AutoModelForCausalLM.from_pretrained(again)
    fresh = load.load_model(sft).merge_and_unload()
    name = "model.layers.0.self_attn.q_proj.weight"
    assert torch.allclose(rebuilt.state_dict()[name], fresh.state_dict()[name])

    save_adapter(sft, base, seed=3, stage_key="k2")  # same key, new weights (a forced re-run)
    plain_model_path(sft, _ctx(tmp_path, sft))
    assert len(count_loads) == 4  # rebuilt (load) + the `fresh` load above


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A micro study with an untrained base model, evaluated once (model loaded, caches filled)."""
    study = micro_study(tmp_path_factory.mktemp("eval"))
    save_untrained_base(study)
    first = evaluate_stored_model(study.eval_context(), "base")
    assert first["model_loaded"]
    return study


def _rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0]


def test_cached_re_evaluation_loads_no_model_and_gives_identical_metrics(evaluated, count_loads):
    metrics = evaluated.store.eval_dir("base") / "metrics.json"
    before = metrics.read_text()
    info = evaluate_stored_model(evaluated.eval_context(), "base")
    assert count_loads == [] and info["model_loaded"] is False
    assert metrics.read_text() == before



def test_cached_re_evaluation_in_a_fresh_process_imports_no_torch_or_transformers(evaluated):
    """What makes `sycolab eval --force` on a fully cached run about as fast as `sycolab status`: no model,
    no tokenizer (prompts rendered before are read from cache/prompts), so neither library is imported."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json, sys\n"
        "from _micro_study import micro_config\n"
        "from sycolab.study.evaluate import evaluate_stored_model\n"
        "from sycolab.study.pipeline import Study\n"
        "from sycolab.store import RunStore\n"
        f"info = evaluate_stored_model(Study(micro_config(), RunStore({str(evaluated.store.root)!r})).eval_context(), 'base')\n"
        "print(json.dumps([info['model_loaded'], [m for m in ('torch', 'transformers') if m in sys.modules]]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, []]
    assert list((evaluated.store.cache_dir / "prompts").glob("*.json"))  # the renderings it read


def test_status_modules_import_no_torch():
    """`sycolab status` lists the steer stage through `sycolab.study.steer`, which imports
    `sycolab.probing.steering`: importing them must not import torch (it once cost status 2 s of its 3)."""
    import subprocess
    import sys

    code = ("import sys, sycolab.study.steer, sycolab.study.pipeline, sycolab.cli.commands\n"
            "print([m for m in ('torch', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_metrics_record_their_provenance(evaluated):
    data = json.loads((evaluated.store.eval_dir("base") / "metrics.json").read_text())
    prov = data["provenance"]
    assert prov["judge"]["kind"] == "rule" and prov["generation"]["max_new_tokens"] == 4
    files = {d["name"]: d for d in prov["data"]}
    assert files["answer"]["path"] == "world/eval/answer.jsonl" and len(files["answer"]["sha256"]) == 64
    assert set(files) == {"answer", "are_you_sure", "feedback", "proxy"}
    assert prov["stage_key"] == "k-base" and len(prov["weights_sha256"]) == 64
    assert "torch" in prov["versions"]


def _feedback_items(study):
    from sycolab.data.sycophancy_eval import load_eval_items

    return load_eval_items(feedback=study.eval_context().data.paths("feedback")["feedback"]).feedback


def test_expected_ratings_are_stored_on_the_judged_feedback_prompts_and_cached(evaluated):
    """metrics.json holds feedback_rating_shift and feedback_expected_rating.<template> over exactly the
    feedback prompts the judge scored; the cache holds the ratings a fresh scoring of the stored model gives."""
    from sycolab.evaluation.expected_rating import expected_ratings, rating_prompts, summarise
    from sycolab.io import read_jsonl
    from sycolab.models.load import load_model_and_tokenizer

    out = evaluated.store.eval_dir("base")
    data = json.loads((out / "metrics.json").read_text())
    judged: dict[str, int] = {}
    for record in read_jsonl(out / "samples.jsonl"):
        if record["dataset"] == "feedback":
            judged[record["template"]] = judged.get(record["template"], 0) + 1
    assert set(judged) == {"neutral", "like", "dislike", "wrote", "did_not_write"}
    rated = {k.rsplit(".", 1)[1]: v["n"] for k, v in data["breakdown"].items() if k.startswith("feedback_expected_rating.")}
    assert rated == judged
    [cache_file] = (evaluated.store.cache_dir / "expected_rating").glob("*.json")
    cached = json.loads(cache_file.read_text())
    items = rating_prompts(_feedback_items(evaluated))
    model, tokenizer = load_model_and_tokenizer(evaluated.store.model_dir("base"))
    fresh = expected_ratings(model, tokenizer, items, world_frame=True)  # the world's feedback set: its own frame
    assert cached["ratings"] == pytest.approx(fresh, abs=1e-5)
    summary = summarise(items, fresh)
    shift = data["metrics"]["feedback_rating_shift"]
    assert shift["value"] == pytest.approx(summary["feedback_rating_shift"], abs=1e-6)
    assert shift["ci_low"] <= shift["value"] <= shift["ci_high"] and shift["n_unscored"] == 0
    assert shift["n"] == sum(judged[t] for t in ("like", "wrote", "dislike", "did_not_write"))
    assert data["breakdown"]["feedback_expected_rating.neutral"]["value"] == pytest.approx(
        summary["feedback_expected_rating.neutral"], abs=1e-6)


def test_cached_re_evaluation_reads_the_ratings_from_the_cache(evaluated, count_loads, monkeypatch):
    """With the rating cache rewritten to 2.0 everywhere (all mass on 'excellent'), a re-evaluation that may
    not score anything reports exactly that: expected rating 2 under every template, shift 0."""
    from sycolab.evaluation import expected_rating

    def no_scoring(*args, **kwargs):
        raise AssertionError("the cached ratings should have been read")

    monkeypatch.setattr(expected_rating, "expected_ratings", no_scoring)
    [cache_file] = (evaluated.store.cache_dir / "expected_rating").glob("*.json")
    original = cache_file.read_text()
    stored = json.loads(original)
    try:
        cache_file.write_text(json.dumps({**stored, "ratings": [2.0] * len(stored["ratings"])}))
        info = evaluate_stored_model(evaluated.eval_context(), "base")
        data = json.loads((evaluated.store.eval_dir("base") / "metrics.json").read_text())
        assert count_loads == [] and info["model_loaded"] is False
        assert data["metrics"]["feedback_rating_shift"]["value"] == pytest.approx(0.0)
        assert data["breakdown"]["feedback_expected_rating.like"]["value"] == pytest.approx(2.0)
    finally:
        cache_file.write_text(original)
        evaluate_stored_model(evaluated.eval_context(), "base")


def test_expected_rating_can_be_switched_off(evaluated, count_loads):
    import dataclasses

    from sycolab.study.evaluate import StoredModel, cached_expected_rating

    ctx = evaluated.eval_context()
    off = dataclasses.replace(ctx, evaluate=ctx.evaluate.model_copy(update={"expected_rating": False}))
    assert cached_expected_rating(off, StoredModel(off, "base"), _feedback_items(evaluated), True) is None
    assert cached_expected_rating(ctx, StoredModel(ctx, "base"), [], True) is None
    assert count_loads == []


def test_new_weights_under_the_same_stage_key_miss_the_generation_cache(evaluated, count_loads):
    cache = evaluated.store.cache_dir / "generations.sqlite"
    rows = _rows(cache)
    save_untrained_base(evaluated, seed=5)  # same name, same stage key "k-base", other weights
    info = evaluate_stored_model(evaluated.eval_context(), "base")
    assert info["model_loaded"] and len(count_loads) == 1
    assert _rows(cache) == 2 * rows  # every prompt generated again for the new weights
    assert len(list((evaluated.store.cache_dir / "proxy").glob("*.json"))) == 2  # proxy recomputed too
    assert len(list((evaluated.store.cache_dir / "expected_rating").glob("*.json"))) == 2  # and the ratings


def test_leftovers_of_killed_writers_are_swept(tmp_path):
    from sycolab.io import atomic_write_json
    from sycolab.store import RunStore

    store = RunStore(tmp_path / "run")
    atomic_write_json(store.root / "eval" / "base" / "metrics.json", {"ok": 1})
    tmp_file = store.root / "eval" / "base" / ".metrics.json.abc123.tmp"
    tmp_file.write_text("{half")
    partial = store.root / "models" / ".sft.x1y2.partial"
    (partial / "sub").mkdir(parents=True)
    old = store.root / "models" / ".dpo.old"
    old.mkdir()
    removed = store.sweep_leftovers()
    assert set(removed) == {tmp_file, partial, old}
    assert (store.root / "eval" / "base" / "metrics.json").exists() and not tmp_file.exists()


def test_sweep_leaves_a_live_writer_alone(tmp_path):
    import os

    from sycolab.store import RunStore

    store = RunStore(tmp_path / "run")
    store.begin_stage("base", "k", {})
    with store._locked_manifest() as m:
        m["stages"]["base"]["pid"] = os.getppid()  # another live process is running a stage
    (store.root / ".x.1.tmp").write_text("")
    assert store.sweep_leftovers() == [] and (store.root / ".x.1.tmp").exists()


def test_eval_data_result_is_reused_by_content_not_path(evaluated, tmp_path):
    from sycolab.study.evaluate import evaluate_run

    answer = tmp_path / "answer.jsonl"
    answer.write_text((evaluated.store.world_dir / "eval" / "answer.jsonl").read_text())
    assert next(evaluate_run(evaluated, ["base"], data=[str(answer)]))[1].startswith("done")
    copy = tmp_path / "elsewhere" / "answer.jsonl"
    copy.parent.mkdir()
    copy.write_text(answer.read_text())
    assert next(evaluate_run(evaluated, ["base"], data=[str(copy)]))[1].startswith("already evaluated")
    answer.write_text(answer.read_text().split("\n", 4)[-1])  # same path, first 4 prompts dropped
    assert next(evaluate_run(evaluated, ["base"], data=[str(answer)]))[1].startswith("done")


def test_probe_provenance_names_files_judge_and_each_models_weights(evaluated):
    from sycolab.study.probe import probe_provenance

    prov = probe_provenance(evaluated.probe_context(), ["base"]).to_dict()
    assert {d["name"]: d["path"] for d in prov["data"]} == {"answer": "world/eval/answer.jsonl",
                                                            "proxy": "world/heldout/proxy.jsonl"}
    assert prov["models"] == {"base": model_weights_key(evaluated.store.model_dir("base"))}
    assert prov["judge"]["kind"] == "rule" and prov["model"] is None
