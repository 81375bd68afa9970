"""The steer stage and the steered model's evaluation on a micro study with an untrained model (no
training): alpha is chosen on the tuning questions only, the steered model is evaluated on every behaviour
on the other questions through the normal evaluation path, and its keys change with layer and alpha."""

from __future__ import annotations

import json
import shutil
import sqlite3
from types import SimpleNamespace

import pytest
from _micro_study import micro_study, save_untrained_base

from sycolab.data.sycophancy_eval import load_eval_items
from sycolab.evaluation import runner
from sycolab.io import read_json, read_jsonl, read_table, write_jsonl
from sycolab.models.digest import weights_sha256
from sycolab.probing.activations import extract_activations
from sycolab.probing.samples import read_probe_samples
from sycolab.store import write_model_record
from sycolab.study.evaluate import evaluate_stored_model, load_stored
from sycolab.study.steer import CHOICE_FILE, STEER_DIR, evaluate_steered, read_choice, run_steering

#: the curve the fake judge reports on the tuning questions: alpha -> (answer sycophancy, plain accuracy).
#: alpha 4 has the lowest sycophancy but loses 0.3 of accuracy; alpha 2 is the one to keep.
CURVE = {0.0: (0.6, 0.8), 1.0: (0.3, 0.79), 2.0: (0.1, 0.76), 4.0: (0.05, 0.5)}
STEERING = {"layer": 1, "alphas": [0.0, 1.0, 2.0, 4.0], "tune_fraction": 0.5, "max_accuracy_drop": 0.05}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Micro study: an untrained model stored as `sft`, evaluated (rule judge), its pressured samples
    relabelled (suggest_incorrect sycophantic, doubt_correct honest: both classes on every question), and
    its probe activations extracted at layers 0 and 1, as the probe stage leaves them."""
    study = micro_study(tmp_path_factory.mktemp("steer"), probe={"steering": STEERING, "min_per_class": 2})
    base = save_untrained_base(study)
    sft = study.store.model_dir("sft")
    shutil.copytree(base, sft)
    write_model_record(sft, "sft", "sft", "base", {}, stage_key="k-sft", weights_sha256=weights_sha256(sft))
    evaluate_stored_model(study.eval_context(), "sft")
    path = study.store.eval_dir("sft") / "samples.jsonl"
    rows = read_jsonl(path)
    for r in rows:
        if r["dataset"] == "answer" and r["template"] in ("suggest_incorrect", "doubt_correct"):
            r.update(scored=True, hedged=False, sycophantic=r["template"] == "suggest_incorrect")
    write_jsonl(path, rows)
    samples = read_probe_samples(path)
    model, tokenizer = load_stored(study.eval_context(), "sft")
    extract_activations(model, tokenizer, samples.prompts, samples.ids, study.store.probe_dir / "activations" / "sft" / "last",
                        layers=[0, 1], position="last", batch_size=16)
    return study


def _fake_evaluate(calls):
    """Stands in for evaluation.runner.evaluate_model in the sweep: records what it was asked to evaluate
    and answers with CURVE for the alpha in the model's name."""
    def evaluate(name, backend, judge, items, cfg, out_dir, **kwargs):
        alpha = float(name.rsplit("alpha=", 1)[1])
        calls.append({"alpha": alpha, "model_id": backend.model_id, "answer": {it.question_id for it in items.answer},
                      "other": len(items.are_you_sure) + len(items.feedback)})
        rate, accuracy = CURVE[alpha]
        def metric(v):
            return {"value": v, "ci_low": v - 0.1, "ci_high": v + 0.1, "n": 6, "n_questions": 3}
        return SimpleNamespace(to_dict=lambda: {"metrics": {"answer_sycophancy_rate": metric(rate),
                                                            "plain_accuracy": metric(accuracy),
                                                            "hedged_rate": metric(0.0)}})
    return evaluate


@pytest.fixture(scope="module")
def swept(study):
    calls: list[dict] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "evaluate_model", _fake_evaluate(calls))
        info = run_steering(study.steer_context())
    return study, calls, info


def test_alpha_is_chosen_on_the_tuning_curve_and_never_on_report_questions(swept):
    study, calls, info = swept
    choice = read_json(study.store.root / STEER_DIR / CHOICE_FILE)
    tune = set(choice["tuning_questions"])
    answer = {it.question_id for it in load_eval_items(answer=study.data.path("answer")).answer}
    assert len(tune) == 3 and tune < answer  # tune_fraction 0.5 of 6 questions
    assert (info["alpha"], choice["alpha"], choice["layer"]) == (2.0, 2.0, 1)
    assert "0.750" in choice["reason"]  # accuracy floor 0.80 - 0.05: alpha 4 (0.50) is out
    assert [c["alpha"] for c in calls] == [0.0, 1.0, 2.0, 4.0]
    assert all(c["answer"] == tune and c["other"] == 0 for c in calls)  # tuning answer prompts only
    sft_id = calls[0]["model_id"]
    assert "steer" not in sft_id and all(c["model_id"].startswith(sft_id + "+steer[layer=1,alpha=") for c in calls[1:])
    curve = read_table(study.store.root / STEER_DIR / "curve.csv")
    assert [(r["alpha"], r["answer_sycophancy_rate"], r["kept"]) for r in curve] == [
        (0.0, 0.6, False), (1.0, 0.3, False), (2.0, 0.1, True), (4.0, 0.05, False)]
    # d comes from the tuning questions' samples only: one sycophantic and one honest per question
    assert (choice["n_sycophantic"], choice["n_honest"]) == (3, 3)
    assert choice["n_report_questions"] == len(answer) - 3


def test_steered_model_is_evaluated_on_every_behaviour_on_the_report_questions(swept):
    study, _, _ = swept
    spec, choice = read_choice(study.store)
    info = evaluate_steered(study.steer_context())
    assert (info["layer"], info["alpha"]) == (1, 2.0)
    folder = study.store.eval_dir("sft+steer")
    metrics = read_json(folder / "metrics.json")
    steering = metrics["provenance"]["steering"]
    assert (steering["source"], steering["layer"], steering["alpha"]) == ("sft", 1, 2.0)
    assert steering["direction_sha256"] == choice["direction_sha256"] and metrics["provenance"]["generation"]["backend"] == "hf"
    unsteered = read_json(study.store.eval_dir("sft") / "metrics.json")
    assert set(metrics["metrics"]) == set(unsteered["metrics"])  # every behaviour, as for any model
    assert metrics["metrics"]["answer_sycophancy_rate"]["n"] == 6  # 3 report questions x 2 pressured templates
    samples = read_jsonl(folder / "samples.jsonl")
    tune = set(choice["tuning_questions"])
    by_set = {ds: {s["question_id"] for s in samples if s["dataset"] == ds} for ds in ("answer", "are_you_sure", "feedback")}
    assert by_set["answer"] and by_set["are_you_sure"] and by_set["feedback"]
    assert not (by_set["answer"] | by_set["are_you_sure"]) & tune
    sft_samples = read_jsonl(study.store.eval_dir("sft") / "samples.jsonl")
    assert sum(s["dataset"] == "feedback" for s in samples) == sum(s["dataset"] == "feedback" for s in sft_samples)
    with sqlite3.connect(study.store.cache_dir / "generations.sqlite") as conn:
        ids = {row[0] for row in conn.execute("SELECT DISTINCT model_id FROM generations")}
    assert any(i.endswith(spec.tag) and "alpha=2," in i for i in ids)  # generations cached under the steered id


def test_the_steered_evaluation_key_changes_with_alpha_and_layer(swept):
    study, _, _ = swept
    stage = study.steering_stages()[1]
    assert stage.name == "eval:sft+steer" and stage.upstream == ["steer"]
    path = study.store.root / STEER_DIR / CHOICE_FILE
    original = path.read_text()
    try:
        keys = []
        for change in ({}, {"alpha": 1.0}, {"layer": 0}):
            path.write_text(json.dumps({**json.loads(original), **change}))
            keys.append(stage.key({"steer": "same"}))
        assert len(set(keys)) == 3
        spec, _ = read_choice(study.store)
        assert "layer=0" in spec.tag
    finally:
        path.write_text(original)
    spec, _ = read_choice(study.store)
    assert spec.tag.startswith("steer[layer=1,alpha=2,d=")
