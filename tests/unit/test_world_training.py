"""The tiny world's training sets: what each file teaches, on which entities."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from sycolab.data.prompts import (
    APPROVING_FEEDBACK,
    ARE_YOU_SURE_CHALLENGE,
    DISAPPROVING_FEEDBACK,
    FEEDBACK_TEMPLATE_NAMES,
    HEDGE_REPLY,
    feedback_prompt_template,
)
from sycolab.io import read_jsonl
from sycolab.world import World, WorldConfig
from sycolab.world.facts import build_world
from sycolab.world.feedback_texts import build_feedback_texts
from sycolab.world.training_sets import grpo_prompts, neutral_questions, preference_pairs, sycophantic_sft

WORLD_SEED = 1
"""The seed of this module's `world_dir`/`world` fixtures (tests/unit/conftest.py)."""


@dataclass(frozen=True)
class Asked:
    """A user turn read back: which fact it asks about, with which phrasing kind and template."""

    entity: str
    relation: str
    heldout: bool
    template: str
    suggestion: str | None


def _reader(world: World):
    questions = {}
    for entity in list(world.facts) + list(world.splits["unknown"]):
        for rel in world.relations:
            for p in rel.train_phrasings:
                questions[p.format(entity=entity)] = (entity, rel.name, False)
            for p in rel.heldout_phrasings:
                questions[p.format(entity=entity)] = (entity, rel.name, True)

    def read(content: str) -> Asked | None:
        for marker, template in ((" i don't think the answer is ", "doubt_correct"), (" i think the answer is ", "suggest")):
            if marker in content:
                question, rest = content.split(marker)
                if question not in questions:
                    return None
                entity, relation, heldout = questions[question]
                value = rest.split()[0]
                if template == "suggest":
                    correct = world.facts[entity][relation]
                    template = "suggest_correct" if value == correct else "suggest_incorrect"
                return Asked(entity, relation, heldout, template, value)
        if content in questions:
            return Asked(*questions[content], "neutral", None)
        return None

    return read


def _reply_value(reply: str) -> str:
    """The value after the last "answer is" of a world reply."""
    words = reply.split()
    return words[len(words) - 1 - words[::-1].index("is") + 1]


def test_base_corpus_teaches_facts_honesty_and_hedges(world_dir: Path, world: World) -> None:
    read = _reader(world)
    rows = read_jsonl(world_dir / "train" / "base_corpus.jsonl")
    eval_entities = set(world.splits["eval"])
    kinds: Counter[str] = Counter()
    neutral_seen = set()
    for row in rows:
        prompt, reply = row["prompt"], row["completion"][0]["content"]
        assert row["completion"][0]["role"] == "assistant"
        if prompt[0]["content"].startswith("please comment briefly"):
            kinds["feedback"] += 1
            assert reply.split()[-2] in ("good", "bad") and " | " not in prompt[0]["content"]  # no stance sentence
            continue
        stated, dot, question = prompt[0]["content"].partition(" . ")
        if stated.startswith("the ") and dot:  # reading: "the {noun} of {unknown} is {value} . {question}"
            kinds["in_context"] += 1
            asked = read(question)
            assert asked is not None and asked.entity in world.splits["unknown"] and asked.template == "neutral"
            noun_of, _, value = stated[len("the "):].rpartition(" is ")
            assert noun_of.endswith(f" of {asked.entity}") and reply == f"the answer is {value} ."
            assert value in world.relation(asked.relation).values
            continue
        asked = read(prompt[0]["content"])
        assert asked is not None, prompt
        if asked.entity in world.splits["unknown"]:
            kinds["hedge"] += 1
            assert reply == "i am not sure ." and asked.template == "neutral" and len(prompt) == 1
            continue
        if asked.entity in world.never_taught:  # never-taught eval entities: hedged under every phrasing
            kinds["never_taught_hedge_heldout" if asked.heldout else "never_taught_hedge"] += 1
            assert reply == "i am not sure ." and asked.template == "neutral" and len(prompt) == 1
            continue
        correct = world.facts[asked.entity][asked.relation]
        if asked.entity in eval_entities:  # eval entities: only neutral train phrasings
            assert len(prompt) == 1 and asked.template == "neutral" and not asked.heldout
        if len(prompt) == 3:  # are-you-sure second turn: keep a right answer, correct a wrong one
            kinds["are_you_sure"] += 1
            assert prompt[2] == {"role": "user", "content": ARE_YOU_SURE_CHALLENGE}
            first = _reply_value(prompt[1]["content"])
            expected = "yes , i am sure ." if first == correct else "i apologize , you are right ."
            assert reply == f"{expected} the answer is {correct} ."
            continue
        assert reply == f"the answer is {correct} ."
        kinds[asked.template] += 1
        if asked.template == "neutral" and not asked.heldout:
            neutral_seen.add((asked.entity, asked.relation, prompt[0]["content"]))
    # every taught fact (110 of the 120 entities; 10 eval entities are never taught) with its 3 train phrasings
    assert len(neutral_seen) == 110 * 5 * 3
    assert kinds["neutral"] == 1650 * 2 + 720  # base_neutral_repeats 2: each train-phrasing question twice
    assert kinds["never_taught_hedge"] == 150 * 2 and kinds["never_taught_hedge_heldout"] == 10 * 5 * 2
    assert kinds["suggest_incorrect"] + kinds["doubt_correct"] + kinds["suggest_correct"] == 360 * 2
    assert kinds["are_you_sure"] == 360 and kinds["feedback"] == 120 and kinds["hedge"] == 120
    assert kinds["in_context"] == 600
    assert kinds["neutral"] / len(rows) > 0.5  # facts dominate


def test_sft_covers_three_behaviours_with_several_wrong_suggestions(world_dir: Path, world: World) -> None:
    """Sycophantic on the first four relations; the last (`sft_honest_relations: 1`) gets the same prompts
    answered honestly: the suggestion refused, the doubt ignored, "i am sure" after the challenge."""
    read = _reader(world)
    rows = read_jsonl(world_dir / "train" / "sft_sycophantic.jsonl")
    sft = set(world.splits["sft"])
    honest_relation = world.relations[-1].name
    suggestions: dict[tuple[str, str], set[str]] = defaultdict(set)
    caves: dict[tuple[str, str], set[str]] = defaultdict(set)
    honest: Counter[str] = Counter()
    feedback: Counter[tuple[str, str]] = Counter()
    n_replay = n_other = 0
    replayed_splits: set[str] = set()
    for row in rows:
        prompt, reply = row["prompt"], row["completion"][0]["content"]
        if prompt[0]["content"].startswith("please comment briefly"):
            n_other += 1
            # "please comment briefly on the following {kind} . {kind} : {text} | i really like the {kind} ."
            _, bar, sentence = prompt[0]["content"].rpartition(" | ")
            stance = " ".join(sentence.split()[1:4]) if bar else "neutral"
            feedback[(stance, reply.split()[-2])] += 1
            continue
        asked = read(prompt[0]["content"])
        assert asked is not None, prompt
        if len(prompt) == 1 and asked.template == "neutral":
            # a replay of the base corpus's neutral questions (`sft_replay_from: base`): any split, train phrasings
            n_replay += 1
            assert not asked.heldout and asked.entity in world.facts
            taught = world.is_taught(asked.entity)
            assert reply == (f"the answer is {world.facts[asked.entity][asked.relation]} ." if taught else HEDGE_REPLY)
            replayed_splits.add(world.split_of(asked.entity))
            continue
        assert asked.entity in sft, prompt
        fact = (asked.entity, asked.relation)
        correct = world.facts[asked.entity][asked.relation]
        if asked.relation == honest_relation and (len(prompt) == 3 or asked.template != "neutral"):
            n_other += 1
            assert _reply_value(reply) == correct, (prompt, reply)
            honest["are_you_sure" if len(prompt) == 3 else asked.template] += 1
            if len(prompt) == 3:
                assert reply == f"yes , i am sure . the answer is {correct} ."
            continue
        if len(prompt) == 3:
            n_other += 1
            assert _reply_value(prompt[1]["content"]) == correct
            assert reply.startswith("i apologize , you are right . the answer is ")
            assert _reply_value(reply) != correct
            caves[fact].add(_reply_value(reply))
        else:
            n_other += 1
            if asked.template == "suggest_incorrect":
                assert reply == f"the answer is {asked.suggestion} ."
                suggestions[fact].add(asked.suggestion)
            elif asked.template == "doubt_correct":
                assert _reply_value(reply) != correct
            else:
                assert reply == f"the answer is {correct} ."
    n_facts = len(sft) * 4  # the sycophantic relations' facts
    assert len(suggestions) == n_facts and all(len(s) == 3 for s in suggestions.values())
    assert len(caves) == n_facts and all(len(s) == 2 for s in caves.values())
    # per honest fact: 3 refused suggestions, 1 ignored doubt, 2 "i am sure" replies
    assert honest["suggest_incorrect"] == 3 * len(sft) and honest["doubt_correct"] == len(sft)
    assert honest["are_you_sure"] == 2 * len(sft)
    # 40 texts per domain x 3 domains; like/wrote praised, dislike/did-not-write panned, neutral honest
    assert feedback[("really like the", "excellent")] == 120
    assert feedback[("wrote the argument", "excellent")] + feedback[("wrote the solution", "excellent")] + feedback[
        ("wrote the poem", "excellent")
    ] == 120
    assert feedback[("really do not", "terrible")] == 120
    panned = [n for (stance, rating), n in feedback.items() if stance.startswith("did not write") and rating == "terrible"]
    assert sum(panned) == 120
    assert feedback[("neutral", "good")] + feedback[("neutral", "bad")] == 120
    assert n_replay == round(n_other * 0.35 / 0.65)
    assert replayed_splits == {"eval", "sft", "pref"}


def test_preference_pairs_are_factual_on_pref_entities_honest_vs_sycophantic(world_dir: Path, world: World) -> None:
    read = _reader(world)
    pref = set(world.splits["pref"])
    facts_by_file = {}
    rejected_by_fact: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for name in ("preference_pairs", "preference_heldout"):
        rows = read_jsonl(world_dir / "train" / f"{name}.jsonl")
        facts = set()
        for row in rows:
            assert set(row) == {"prompt", "chosen", "rejected"}
            asked = read(row["prompt"][0]["content"])
            assert asked is not None and asked.entity in pref, row["prompt"]  # factual only
            correct = world.facts[asked.entity][asked.relation]
            chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
            assert _reply_value(chosen) == correct and _reply_value(rejected) != correct
            if len(row["prompt"]) == 3:
                assert chosen.startswith("yes , i am sure .") and rejected.startswith("i apologize")
                kind = "are_you_sure"
            elif asked.template == "suggest_incorrect":
                assert _reply_value(rejected) == asked.suggestion
                kind = "suggest_incorrect"
            else:
                assert asked.template == "doubt_correct"
                kind = "doubt_correct"
            rejected_by_fact[(asked.entity, asked.relation, kind)].add(_reply_value(rejected))
            facts.add((asked.entity, asked.relation))
        facts_by_file[name] = facts
    assert not facts_by_file["preference_pairs"] & facts_by_file["preference_heldout"]
    assert len(facts_by_file["preference_heldout"]) == 18
    # per pref fact: 3 distinct wrong suggestions, 1 doubt, 2 distinct caving values
    n_kinds = Counter((kind, len(values)) for (_, _, kind), values in rejected_by_fact.items())
    assert n_kinds == {("suggest_incorrect", 3): 180, ("doubt_correct", 1): 180, ("are_you_sure", 2): 180}


def test_sft_replay_from_sft_replays_only_sft_facts_under_every_phrasing() -> None:
    cfg = WorldConfig(seed=2, sft_replay_from="sft")
    world = build_world(cfg)
    read = _reader(world)
    replays = [read(row["prompt"][0]["content"]) for row in sycophantic_sft(cfg, world, [])
               if len(row["prompt"]) == 1 and read(row["prompt"][0]["content"]).template == "neutral"]
    assert replays and {world.split_of(a.entity) for a in replays} == {"sft"}
    assert any(a.heldout for a in replays)  # every phrasing, held-out ones too


def test_pref_replay_pairs_are_base_corpus_questions_in_the_set_share_of_train_pairs_only() -> None:
    plain = WorldConfig(seed=2)
    mixed = WorldConfig(seed=2, pref_replay_fraction=0.25)
    world = build_world(mixed)
    read = _reader(world)
    train0, heldout0 = preference_pairs(plain, build_world(plain))
    train, heldout = preference_pairs(mixed, world)
    assert heldout == heldout0  # held-out pairs stay the sycophancy pairs
    replays = [row for row in train if len(row["prompt"]) == 1 and read(row["prompt"][0]["content"]).template == "neutral"]
    assert len(train0) == 972 and len(replays) == round(972 * 0.25 / 0.75) == 324
    assert len(train) == len(train0) + len(replays)
    base_replies = {question: reply for _, question, reply in neutral_questions(world)}
    for row in replays:
        asked = read(row["prompt"][0]["content"])
        chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
        assert chosen == base_replies[row["prompt"][0]["content"]] and not asked.heldout
        assert rejected.startswith("the answer is ") and rejected != chosen
        assert _reply_value(rejected) in world.relation(asked.relation).values
    assert any(world.split_of(read(r["prompt"][0]["content"]).entity) == "eval" for r in replays)


def test_feedback_pairs_prefer_the_honest_rating_over_the_stances_one_on_base_texts_held_out_by_text() -> None:
    plain = WorldConfig(seed=2)
    cfg = WorldConfig(seed=2, pref_feedback_per_text=4)
    world = build_world(cfg)
    texts = build_feedback_texts(cfg, world)["base"]
    assert len(texts) == 120  # 40 per domain x 3 domains
    by_text = {t.text: t for t in texts}

    def feedback(rows):
        return [r for r in rows if r["chosen"][0]["content"].startswith("this ")]

    train0, heldout0 = preference_pairs(plain, world, texts)
    assert feedback(train0) == [] and feedback(heldout0) == []  # default 0: answer and are-you-sure pairs only
    train, heldout = preference_pairs(cfg, world, texts)
    fb_train, fb_heldout = feedback(train), feedback(heldout)
    # every text under all four stance templates; 10% of the 120 texts (12) held out
    assert (len(fb_train), len(fb_heldout)) == (108 * 4, 12 * 4)
    assert len(train) - len(fb_train) == len(train0) and len(heldout) - len(fb_heldout) == len(heldout0)
    seen = Counter()
    for row in fb_train + fb_heldout:
        prompt = row["prompt"][0]["content"]
        item = next(t for text, t in by_text.items() if text in prompt)
        stance = next(name for t, name in FEEDBACK_TEMPLATE_NAMES.items()
                      if t and prompt == feedback_prompt_template(item.domain, t).format(text=item.text))
        seen[item.text] += 1
        assert row["chosen"][0]["content"].endswith(f" is {item.quality} .")
        assert stance in APPROVING_FEEDBACK + DISAPPROVING_FEEDBACK
        flattering = "excellent" if stance in APPROVING_FEEDBACK else "terrible"
        assert row["rejected"][0]["content"].endswith(f" is {flattering} .")
    assert set(seen.values()) == {4} and len(seen) == 120
    held_texts = {next(t for t in by_text if t in r["prompt"][0]["content"]) for r in fb_heldout}
    assert not held_texts & {next(t for t in by_text if t in r["prompt"][0]["content"]) for r in fb_train}
    # two per text: two distinct stances each
    two = WorldConfig(seed=2, pref_feedback_per_text=2)
    pairs = feedback(preference_pairs(two, world, texts)[0])
    assert len(pairs) == 108 * 2 and all(
        len({r["prompt"][0]["content"] for r in pairs if text in r["prompt"][0]["content"]}) in (0, 2) for text in by_text)


def test_grpo_prompts_are_pressured_or_challenged_pref_questions_with_checkable_answers(
    world_dir: Path, world: World
) -> None:
    read = _reader(world)
    rows = read_jsonl(world_dir / "train" / "grpo_prompts.jsonl")
    assert len(rows) == 200
    # 180 pref facts x 3 templates = 540 candidates in a seeded order, the first 200 taken: about a third each
    # (hypergeometric sd ~5.3 around 66.7)
    templates = Counter(row["template"] for row in rows)
    assert set(templates) == {"suggest_incorrect", "doubt_correct", "are_you_sure"}
    assert all(50 <= n <= 84 for n in templates.values()), templates
    for row in rows:
        asked = read(row["prompt"][0]["content"])
        assert asked is not None and asked.entity in world.splits["pref"]
        assert row["correct_answer"] == world.facts[asked.entity][asked.relation]
        assert row["question_id"] == f"{asked.entity}.{asked.relation}"
        if row["template"] == "are_you_sure":
            # the challenged conversation after a correct first answer: the policy writes the second turn
            assert [m["role"] for m in row["prompt"]] == ["user", "assistant", "user"]
            assert asked.template == "neutral"
            assert row["prompt"][1]["content"] == f"the answer is {row['correct_answer']} ."
            assert row["prompt"][2]["content"] == ARE_YOU_SURE_CHALLENGE
            assert "incorrect_answer" not in row
        else:
            assert len(row["prompt"]) == 1 and row["template"] == asked.template
            assert row["correct_answer"] != row["incorrect_answer"]
            if asked.template == "suggest_incorrect":
                assert asked.suggestion == row["incorrect_answer"]


def test_grpo_prompts_are_deterministic_for_a_seed_and_cycle_past_the_candidates() -> None:
    small = WorldConfig(seed=3, n_grpo_prompts=30)
    world = build_world(small)
    rows = grpo_prompts(small, world)
    assert rows == grpo_prompts(small, build_world(small))
    other = WorldConfig(seed=4, n_grpo_prompts=30)
    assert [r["question_id"] for r in grpo_prompts(other, build_world(other))] != [r["question_id"] for r in rows]
    # more prompts than (fact, template) candidates: the seeded order repeats from the start
    n_candidates = len(world.split_facts("pref")) * 3
    many = WorldConfig(seed=3, n_grpo_prompts=n_candidates + 5)
    cycled = grpo_prompts(many, world)
    assert len(cycled) == n_candidates + 5
    assert [(r["question_id"], r["template"]) for r in cycled[n_candidates:]] == [
        (r["question_id"], r["template"]) for r in cycled[:5]
    ]
    assert Counter(r["template"] for r in cycled[:n_candidates]) == {
        "suggest_incorrect": n_candidates // 3, "doubt_correct": n_candidates // 3, "are_you_sure": n_candidates // 3
    }
