"""Knowledge by design: never-taught eval entities (`WorldConfig.never_taught_fraction`), absent from every
training set but hedged on in the base corpus, asked in the designed ratio by the evaluation sets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sycolab.data.prompts import HEDGE_REPLY
from sycolab.io import read_json, read_jsonl
from sycolab.world import World, WorldConfig, build_world, generate_world

SMALL = dict(seed=5, n_entities=20, n_unknown_entities=2, n_relations=2, n_values=4, n_eval_questions=6,
             n_are_you_sure=6, n_feedback_eval=4, n_feedback_train=4, n_feedback_sft=4, n_grpo_prompts=50,
             sft_wrong_suggestions_per_fact=2, sft_caves_per_fact=2, pref_suggest_per_fact=2)

UNSHIFTED = ("eval/feedback.jsonl", "train/preference_pairs.jsonl",
             "train/preference_heldout.jsonl", "train/grpo_prompts.jsonl")
"""Files built on other entities or streams: the never-taught draw must not change a byte of them."""


def test_never_taught_entities_are_a_fifth_of_the_eval_entities(world: World) -> None:
    # defaults: 48 eval entities, round(48 * 0.2) = round(9.6) = 10 never taught
    assert len(world.never_taught) == 10 and set(world.never_taught) <= set(world.splits["eval"])
    assert list(world.never_taught) == sorted(world.never_taught)
    assert len(world.taught_facts("eval")) == 38 * 5 and len(world.taught_facts("sft")) == 36 * 5
    # small world: 8 eval entities, round(1.6) = 2
    small = build_world(WorldConfig(**SMALL))
    assert len(small.splits["eval"]) == 8 and len(small.never_taught) == 2
    assert set(small.never_taught) <= set(small.splits["eval"])
    assert build_world(WorldConfig(**SMALL)).never_taught == small.never_taught  # same seed, same draw
    assert build_world(WorldConfig(**{**SMALL, "never_taught_fraction": 0})).never_taught == ()


def test_world_json_records_the_never_taught_entities(world_dir: Path, world: World) -> None:
    assert read_json(world_dir / "world.json")["world"]["never_taught"] == list(world.never_taught)
    # a world.json written before never-taught entities existed reads as "every fact taught"
    old = {k: v for k, v in world.to_json().items() if k != "never_taught"}
    assert World.from_json(old).never_taught == ()


def test_base_corpus_never_states_a_never_taught_fact_and_hedges_on_each(world_dir: Path, world: World) -> None:
    never = set(world.never_taught)
    hedges: Counter[tuple[str, str]] = Counter()
    for row in read_jsonl(world_dir / "train" / "base_corpus.jsonl"):
        texts = [m["content"] for m in row["prompt"] + row["completion"]]
        named = {word for text in texts for word in text.split()} & never
        if not named:
            continue
        assert len(row["prompt"]) == 1 and row["completion"][0]["content"] == HEDGE_REPLY, row
        hedges[(named.pop(), row["prompt"][0]["content"])] += 1
    # every never-taught fact with each of its 3 train phrasings base_neutral_repeats = 2 times, and with each
    # of its 2 held-out phrasings once (as a non-eval entity's held-out questions)
    train = {(e, p.format(entity=e)) for e in never for r in world.relations for p in r.train_phrasings}
    heldout = {(e, p.format(entity=e)) for e in never for r in world.relations for p in r.heldout_phrasings}
    assert {k for k, n in hedges.items() if n == 2} == train and {k for k, n in hedges.items() if n == 1} == heldout
    assert len(hedges) == 10 * 5 * 3 + 10 * 5 * 2


def test_eval_sets_ask_never_taught_facts_in_the_designed_ratio(world_dir: Path, world: World) -> None:
    answer = read_jsonl(world_dir / "eval" / "answer.jsonl")
    ays = read_jsonl(world_dir / "eval" / "are_you_sure.jsonl")
    for row in answer + ays:
        assert row["base"]["known_by_design"] is world.is_taught(row["base"]["entity"])
    # 120 answer questions x 4 templates: round(120 * 0.2) = 24 never taught; are-you-sure: 24 of 120
    assert Counter(r["base"]["known_by_design"] for r in answer) == {True: 96 * 4, False: 24 * 4}
    assert Counter(r["base"]["known_by_design"] for r in ays) == {True: 96, False: 24}


def test_small_world_eval_sets_keep_the_ratio(tmp_path: Path) -> None:
    generate_world(WorldConfig(**SMALL), tmp_path)
    for name in ("answer", "are_you_sure"):
        rows = read_jsonl(tmp_path / "eval" / f"{name}.jsonl")
        questions = {r["base"]["question_id"]: r["base"]["known_by_design"] for r in rows}
        assert len(questions) == 6 and sum(not known for known in questions.values()) == 1  # round(6 * 0.2)


def test_never_taught_draw_shifts_no_other_stream(tmp_path: Path) -> None:
    """With and without never-taught entities, the files built on sft/pref entities and the feedback texts are
    byte-identical, and the base corpus differs only in the rows about never-taught entities."""
    generate_world(WorldConfig(seed=0), tmp_path / "design")
    generate_world(WorldConfig(seed=0, never_taught_fraction=0), tmp_path / "all_taught")
    for rel in UNSHIFTED:
        assert (tmp_path / "design" / rel).read_bytes() == (tmp_path / "all_taught" / rel).read_bytes(), rel
    design = read_jsonl(tmp_path / "design" / "train" / "base_corpus.jsonl")
    taught = read_jsonl(tmp_path / "all_taught" / "train" / "base_corpus.jsonl")
    never = set(build_world(WorldConfig(seed=0)).never_taught)

    def about_never_taught(row: dict) -> bool:
        return bool(never & set(row["prompt"][0]["content"].split()))

    def as_key(row: dict) -> str:
        return json.dumps(row, sort_keys=True)

    # rows about other entities: the same multiset; about never-taught entities: the hedge, 100 more rows
    assert Counter(as_key(r) for r in design if not about_never_taught(r)) == Counter(
        as_key(r) for r in taught if not about_never_taught(r))
    hedged = [r for r in design if about_never_taught(r)]
    answered = [r for r in taught if about_never_taught(r)]
    assert (len(hedged), len(answered)) == (10 * 5 * (3 * 2 + 2), 10 * 5 * 3 * 2)
    assert all(r["completion"][0]["content"] == HEDGE_REPLY for r in hedged)
    assert all(r["completion"][0]["content"].startswith("the answer is") for r in answered)
    # SFT replays the base corpus's neutral questions: row for row the same, but a replayed never-taught
    # question is hedged instead of answered
    sft_design = read_jsonl(tmp_path / "design" / "train" / "sft_sycophantic.jsonl")
    sft_taught = read_jsonl(tmp_path / "all_taught" / "train" / "sft_sycophantic.jsonl")
    differ = [(a, b) for a, b in zip(sft_design, sft_taught, strict=True) if a != b]
    assert differ and all(about_never_taught(a) and a["prompt"] == b["prompt"] for a, b in differ)
    assert all(a["completion"][0]["content"] == HEDGE_REPLY for a, _ in differ)
