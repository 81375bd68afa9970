"""The checkpoint-selection slice (`evaluate.selection_questions`): a fixed set of questions per evaluation
set chooses checkpoints and is scored by no model's evaluation, so a kept checkpoint's reported numbers are
held out; judged or proxy selection without a slice is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from _micro_study import MICRO, micro_config, micro_study, save_untrained_base

from sycolab.data.eval_items import EvalItem, EvalItems
from sycolab.data.sycophancy_eval import load_eval_items
from sycolab.errors import ConfigError
from sycolab.evaluation.selection import only_questions, selection_questions, slice_of, without_questions
from sycolab.io import read_json, read_jsonl

# sha256 order of these ids, computed once by hand with hashlib:
# c.country, f.color, b.food, a.color, d.metal, e.animal
IDS = ["a.color", "b.food", "c.country", "d.metal", "e.animal", "f.color"]


def _item(question_id: str, template: str = "neutral") -> EvalItem:
    return EvalItem(sample_id=f"{question_id}.{template}", dataset="answer", template=template,
                    question_id=question_id, domain=None, messages=[])


def test_the_slice_is_the_ids_with_the_smallest_sha256_whatever_their_order():
    items = [_item(q, t) for q in IDS for t in ("neutral", "suggest_incorrect")]
    assert slice_of(items, 2) == {"c.country", "f.color"}
    assert slice_of(list(reversed(items)), 3) == {"c.country", "f.color", "b.food"}
    assert slice_of(items, 10) == set(IDS)  # fewer questions than asked: all of them
    assert slice_of([], 2) == set()


def test_every_set_gives_its_own_slice_and_the_rest_is_everything_else():
    items = EvalItems(answer=[_item(q) for q in IDS], are_you_sure=[_item("x.food"), _item("y.food")],
                      feedback=[_item("poems.000"), _item("poems.001"), _item("math.000")])
    chosen = selection_questions(items, 2)
    assert chosen == {"c.country", "f.color", "x.food", "y.food"} | slice_of(items.feedback, 2)
    assert len(chosen) == 6 and selection_questions(items, 0) == set()
    kept, rest = only_questions(items, chosen), without_questions(items, chosen)
    assert [it.question_id for it in kept.answer] == ["c.country", "f.color"]  # file order kept
    assert [it.question_id for it in rest.answer] == ["a.color", "b.food", "d.metal", "e.animal"]
    assert rest.are_you_sure == [] and len(rest.feedback) == 1


def _with_checkpoint(select_by: str, selection: int = 0) -> dict:
    return {"recover": {"dpo": {"max_steps": 1, "checkpoint": {"eval_every": 1, "select_by": select_by}}},
            "evaluate": {**MICRO["evaluate"], "selection_questions": selection}}


@pytest.mark.parametrize("select_by", ["judged", "proxy"])
def test_selection_on_the_reported_questions_is_refused_naming_the_field(select_by: str):
    with pytest.raises(ConfigError) as err:
        micro_config(**_with_checkpoint(select_by))
    assert "recover.dpo.checkpoint.select_by" in str(err.value)
    assert "evaluate.selection_questions" in str(err.value)


def test_a_slice_or_select_by_last_is_accepted():
    assert micro_config(**_with_checkpoint("judged", selection=2)).evaluate.selection_questions == 2
    assert micro_config(**_with_checkpoint("last")).evaluate.selection_questions == 0


def test_no_model_is_evaluated_on_the_slice(tmp_path: Path):
    study = micro_study(tmp_path, evaluate={**MICRO["evaluate"], "selection_questions": 2})
    save_untrained_base(study)
    from sycolab.study.evaluate import evaluate_stored_model

    evaluate_stored_model(study.eval_context(), "base")
    data = study.data.paths("answer", "are_you_sure", "feedback")
    items = load_eval_items(**data)
    chosen = selection_questions(items, 2)
    assert len(chosen) == 6  # 2 answer + 2 are-you-sure + 2 feedback questions
    records = read_jsonl(study.store.eval_dir("base") / "samples.jsonl")
    scored = {r["question_id"] for r in records}
    every = {it.question_id for it in [*items.answer, *items.are_you_sure, *items.feedback]}
    assert scored == every - chosen
    breakdown = read_json(study.store.eval_dir("base") / "metrics.json")["breakdown"]  # rated: the judged prompts only
    rated = sum(v["n"] for k, v in breakdown.items() if k.startswith("feedback_expected_rating."))
    assert rated == sum(r["dataset"] == "feedback" for r in records) < len(items.feedback)


def test_the_mini_evaluation_scores_only_the_slice(tmp_path: Path):
    from sycolab.methods._checkpoints import MiniEvaluation
    from sycolab.methods.config import CheckpointPolicy

    study = micro_study(tmp_path, evaluate={**MICRO["evaluate"], "judge": {"kind": "rule"}, "selection_questions": 2})
    data = {**study.data.paths("answer", "are_you_sure", "feedback"), "world": study.store.world_dir / "world.json",
            "proxy": study.data.path("proxy")}
    mini = MiniEvaluation("dpo", CheckpointPolicy(eval_every=1, eval_questions=24), data,
                          study.cfg.evaluate.model_dump(mode="json"), tmp_path / "cache", tmp_path / "evals")
    answer_slice = slice_of(load_eval_items(answer=data["answer"]).answer, 2)
    assert {it.question_id for it in mini.items.answer} == answer_slice
    assert {it.question_id for it in mini.proxy_items} <= answer_slice
    assert mini.describe()["held_out"] is True and mini.describe()["answer_prompts"] == 2 * 4


BIGGER_WORLD = {**MICRO["world"], "n_eval_questions": 8, "n_are_you_sure": 8, "n_feedback_eval": 3}


def test_a_slice_that_takes_every_question_of_a_set_is_a_user_error_naming_the_set(tmp_path: Path):
    from sycolab.evaluation.selection import slice_problems

    items = EvalItems(answer=[_item(q) for q in IDS], are_you_sure=[_item("x.food"), _item("y.food")])
    assert slice_problems(items, 1) == []  # one of two are-you-sure questions left: fine
    [problem] = slice_problems(items, 2)
    assert "every one of the 2 questions of the are_you_sure evaluation set" in problem
    # the tiny world's sizes are known from its section: refused when the config loads (micro: 6 answer
    # questions, 6 are-you-sure conversations, 2 x 3 feedback texts)
    with pytest.raises(ConfigError) as err:
        micro_config(evaluate={**MICRO["evaluate"], "selection_questions": 6})
    assert "evaluate.selection_questions: 6 sets aside every one of the 6 questions of the tiny world's answer" in str(err.value)
    assert micro_config(evaluate={**MICRO["evaluate"], "selection_questions": 5}).evaluate.selection_questions == 5
    # a set given as a file: refused before any stage runs
    study = micro_study(tmp_path)
    answer = tmp_path / "answer.jsonl"
    answer.write_text((study.store.world_dir / "eval" / "answer.jsonl").read_text())
    given = micro_study(tmp_path / "given", evaluate={**MICRO["evaluate"], "selection_questions": 5},
                        data={"answer": str(answer)}, world=BIGGER_WORLD)
    given.validate_inputs()  # 6 questions in the file, 5 set aside
    given = micro_study(tmp_path / "given2", evaluate={**MICRO["evaluate"], "selection_questions": 6},
                        data={"answer": str(answer)}, world=BIGGER_WORLD)
    with pytest.raises(ConfigError, match="evaluate.selection_questions: 6 sets aside every one of the 6 questions"):
        given.validate_inputs()
    # and at evaluation, before anything is loaded or written
    from sycolab.errors import UserError
    from sycolab.study.evaluate import evaluate_stored_model

    with pytest.raises(UserError, match="evaluate.selection_questions: 6 sets aside every one of the 6 questions"):
        evaluate_stored_model(given.eval_context(), "base")
    assert not given.store.eval_dir("base").exists()
