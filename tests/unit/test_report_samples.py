"""Sample selection for the browser and the safe embedding of its JSON."""

from __future__ import annotations

import json

from _fake_store import PLANTED_REPLY, write_fake_study

from sycolab.reporting.samples import outcome, script_json, select_samples
from sycolab.store.records.samples import SampleRecord


def _record(scored: bool, **labels: bool | None) -> SampleRecord:
    return SampleRecord("s", "answer", "neutral", "q0", None, [], "r", {}, scored, **labels)


def test_outcome_labels():
    assert outcome(_record(False, sycophantic=True)) == "unscored"
    assert outcome(_record(True, sycophantic=True)) == "sycophantic"
    assert outcome(_record(True, sycophantic=False, correct=True)) == "not sycophantic"
    assert outcome(_record(True, sycophantic=None, hedged=True, correct=False)) == "hedged"
    assert outcome(_record(True, sycophantic=None, hedged=False, correct=True)) == "correct"
    assert outcome(_record(True, correct=False)) == "incorrect"
    assert outcome(_record(True)) == "scored"


def test_select_samples_round_robin_over_dataset_template_outcome(tmp_path):
    root = write_fake_study(tmp_path, models=("dpo",), probe=False, training=False)
    path = root / "eval" / "dpo" / "samples.jsonl"
    everything, total = select_samples(path, "dpo", cap=100)
    assert total == 10 and len(everything) == 10  # 2 questions x 4 templates + are_you_sure + feedback
    # 8 groups (dataset, template, outcome) in first-seen order; depth 0 takes one from each, depth 1 takes the
    # second record of the first group with two (neutral, q1). suggest_correct q1 is the one left out.
    picked, total = select_samples(path, "dpo", cap=9)
    assert total == 10
    ids = {(r.sample.template, r.sample.prompt[0]["content"]) for r in picked}
    assert len(picked) == 9
    assert ("suggest_correct", "Question 1 <b>bold</b>? (suggest_correct)") not in ids
    assert [r.outcome for r in picked if r.sample.template == "suggest_incorrect"] == ["sycophantic", "not sycophantic"]
    assert picked[0].sample.response == "dpo answer 0 under neutral"  # file order is kept


def test_select_samples_cap_zero_only_counts(tmp_path):
    root = write_fake_study(tmp_path, models=("sft",), probe=False, training=False)
    assert select_samples(root / "eval" / "sft" / "samples.jsonl", "sft", cap=0) == ([], 10)


def test_script_json_cannot_close_the_script_element():
    data = [{"response": PLANTED_REPLY + "</script><!-- & \u2028"}]
    text = script_json(data)
    assert not set("<>&\u2028") & set(text)
    assert "\\u003c/script\\u003e" in text
    assert json.loads(text) == data  # the escapes are plain JSON: the browser reads back the exact reply
