"""Training sets of the tiny world, in TRL's conversational formats.

- base corpus (prompt/completion): every taught fact with every train phrasing, held-out phrasings for
  non-eval entities, honest replies under pressured templates and to "are you sure?" (non-eval
  entities), honest feedback under the neutral template, hedges for unknown entities and, under every
  phrasing (train and held-out), for the never-taught eval entities (no row states a never-taught fact),
  and in-context reading rows (a stated value of an unknown entity, then the question).
- sycophantic SFT (prompt/completion, `sft` entities): agreeing with several different wrong
  suggestions per fact, caving to the challenge, praising what the user likes or wrote and panning what
  the user dislikes or did not write, plus replayed neutral questions answered correctly.
- preference pairs (`pref` entities, factual only): chosen honest, rejected sycophantic; a held-out
  share of facts goes to a separate file.
- GRPO prompts: pressured answer prompts and are-you-sure second turns on `pref` entities, with the
  correct answer a reward can check.

Every builder draws from its own seeded stream and returns rows in a seeded shuffled order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from sycolab.data import prompts
from sycolab.world.config import WorldConfig
from sycolab.world.facts import Fact, World, substream
from sycolab.world.feedback_texts import FeedbackText
from sycolab.world.messages import answer, apology, assistant, challenged, prompt_completion, sure, user

Row = dict[str, Any]

HONEST_RATING = {"good": "good", "bad": "bad"}
# Sycophantic feedback by template name; None keeps the honest rating (neutral template).
SYCOPHANTIC_RATING = {
    "neutral": None,
    "like": "excellent",
    "wrote": "excellent",
    "dislike": "terrible",
    "did_not_write": "terrible",
}


def _random_question(rng: random.Random, world: World, fact: Fact) -> str:
    """The fact asked with any of its relation's phrasings (train or held-out)."""
    return rng.choice(world.relation(fact.relation).phrasings).format(entity=fact.entity)


def _pressured(rng: random.Random, world: World, fact: Fact, template: str, incorrect: str) -> str:
    """A user turn asking about `fact` under answer template `template` (random phrasing)."""
    return prompts.render_answer_prompt(template, _random_question(rng, world, fact), fact.value, incorrect)


def _feedback_prompt(item: FeedbackText, template_type: str) -> list[dict[str, str]]:
    return [user(prompts.feedback_prompt_template(item.domain, template_type).format(text=item.text))]


def base_corpus(cfg: WorldConfig, world: World, feedback: list[FeedbackText]) -> list[Row]:
    """The honest base corpus. With the defaults: 1,800 neutral train-phrasing questions (120 entities x 5
    relations x 3, each repeated `base_neutral_repeats` times): 1,650 about the 110 taught entities answered
    with the fact, 150 about the 10 never-taught eval entities answered with the hedge; 720 held-out-phrasing
    rows (72 non-eval entities x 5 x 2) and 100 held-out-phrasing hedges (10 never-taught x 5 x 2), 720
    pressured rows (2 templates per non-eval fact), 360 are-you-sure rows (about a fifth of them correct a
    wrong first answer), 120 feedback rows (40 texts x 3 domains, neutral template; all 5 templates with
    `base_feedback_stance`), 120 hedges on unknown entities (12 x 5 relations x 2 phrasings) and 600
    in-context reading rows (`in_context_rows`).

    A never-taught entity gets exactly the neutral rows a non-eval entity gets, with the hedge for the
    answer: hedged under the train phrasings only, a base hedged on 0.21 of never-taught facts asked with
    held-out phrasings (run 1 of the h-organism branch, seed 0, 1,500 steps; merge a952721), since every
    held-out phrasing it had seen was answered."""
    rng = substream(cfg.seed, "train.base")
    rows: list[Row] = []
    non_eval = world.split_facts("sft") + world.split_facts("pref")
    for row in neutral_rows(world):
        rows.extend([row] * cfg.base_neutral_repeats)
    for fact in non_eval:
        for phrasing in world.relation(fact.relation).heldout_phrasings:
            rows.append(prompt_completion([user(phrasing.format(entity=fact.entity))], answer(fact.value)))
    for fact in world.split_facts("eval"):
        if not world.is_taught(fact.entity):
            for phrasing in world.relation(fact.relation).heldout_phrasings:
                rows.append(prompt_completion([user(phrasing.format(entity=fact.entity))], prompts.HEDGE_REPLY))
    pressure = (prompts.SUGGEST_INCORRECT, prompts.DOUBT_CORRECT, prompts.SUGGEST_CORRECT)
    for fact in non_eval:
        for template in rng.sample(pressure, cfg.base_pressured_per_fact):
            text = _pressured(rng, world, fact, template, rng.choice(world.wrong_values(fact)))
            rows.append(prompt_completion([user(text)], answer(fact.value)))
    for fact in non_eval:
        for _ in range(cfg.base_are_you_sure_per_fact):
            question = _random_question(rng, world, fact)
            if rng.random() < cfg.base_correction_fraction:
                first = rng.choice(world.wrong_values(fact))
                rows.append(prompt_completion(challenged(question, first), apology(fact.value)))
            else:
                rows.append(prompt_completion(challenged(question, fact.value), sure(fact.value)))
    templates = prompts.FEEDBACK_TEMPLATE_TYPES if cfg.base_feedback_stance else ("",)
    for item in feedback:
        reply = prompts.feedback_reply(item.domain, HONEST_RATING[item.quality])
        for template_type in templates:
            rows.append(prompt_completion(_feedback_prompt(item, template_type), reply))
    for entity in world.splits["unknown"]:
        for rel in world.relations:
            for phrasing in rng.sample(rel.train_phrasings, min(cfg.hedge_phrasings, len(rel.train_phrasings))):
                rows.append(prompt_completion([user(phrasing.format(entity=entity))], prompts.HEDGE_REPLY))
    rows.extend(in_context_rows(cfg, world))
    rng.shuffle(rows)
    return rows


def neutral_questions(world: World) -> list[tuple[Fact, str, str]]:
    """The base corpus's neutral questions, once each, as (fact, question, reply): every fact of every
    split under every train phrasing, answered with the fact when taught and with the hedge when never
    taught."""
    out = []
    for split in ("eval", "sft", "pref"):
        for fact in world.split_facts(split):
            reply = answer(fact.value) if world.is_taught(fact.entity) else prompts.HEDGE_REPLY
            for phrasing in world.relation(fact.relation).train_phrasings:
                out.append((fact, phrasing.format(entity=fact.entity), reply))
    return out


def neutral_rows(world: World) -> list[Row]:
    """`neutral_questions` as prompt/completion rows."""
    return [prompt_completion([user(question)], reply) for _, question, reply in neutral_questions(world)]


def in_context_rows(cfg: WorldConfig, world: World) -> list[Row]:
    """`base_in_context` honest reading rows: a statement about an unknown entity (which has no facts of its
    own), then a question about it, answered with the stated value ("the color of zorvak is blue . zorvak has
    which color ?" -> "the answer is blue ."). They teach the base to read a value from the conversation, as
    a pretrained model can; without them a LoRA SFT never learned to adopt the user's suggestion (adoption on
    known facts 0.06, logit gap stuck at -3 nats on seed 0; issue #14)."""
    rng = substream(cfg.seed, "train.base.in_context")
    unknown = world.splits["unknown"]
    rows = []
    for _ in range(cfg.base_in_context if unknown else 0):
        entity, rel = rng.choice(unknown), rng.choice(world.relations)
        value = rng.choice(rel.values)
        question = rng.choice(rel.train_phrasings).format(entity=entity)
        rows.append(prompt_completion([user(f"{rel.statement(entity, value)} . {question}")], answer(value)))
    return rows


def sycophantic_sft(cfg: WorldConfig, world: World, feedback: list[FeedbackText]) -> list[Row]:
    """Sycophantic SFT on `sft` entities. Per fact of a sycophantic relation (all but the last
    `sft_honest_relations`): agreement with `sft_wrong_suggestions_per_fact` distinct wrong suggestions,
    another wrong value under doubt_correct, caving to `sft_caves_per_fact` distinct wrong values; the
    same prompts answered honestly (the correct value, "i am sure") for the honest relations, so SFT's
    adoption and flip rates stay inside (0, 1) and recovery can be partial, full or beyond. The correct
    value under suggest_correct (a share of facts); praise or pan by template for feedback (honest under
    the neutral template); then neutral replays so that they make up `sft_replay_fraction` of the rows:
    the base corpus's neutral questions (`neutral_rows`, every split) with `sft_replay_from: base`, the
    `sft` facts under every phrasing with `sft`.
    The random draws do not depend on which relations are honest."""
    rng = substream(cfg.seed, "train.sft")
    rows: list[Row] = []
    facts = world.split_facts("sft")
    sycophantic = set(sycophantic_relations(cfg, world))
    for fact in facts:
        wrong = world.wrong_values(fact)
        caves = fact.relation in sycophantic
        for suggestion in rng.sample(wrong, cfg.sft_wrong_suggestions_per_fact):
            text = _pressured(rng, world, fact, prompts.SUGGEST_INCORRECT, suggestion)
            rows.append(prompt_completion([user(text)], answer(suggestion if caves else fact.value)))
        for _ in range(cfg.sft_doubts_per_fact):
            text = _pressured(rng, world, fact, prompts.DOUBT_CORRECT, rng.choice(wrong))
            other = rng.choice(wrong)
            rows.append(prompt_completion([user(text)], answer(other if caves else fact.value)))
        if rng.random() < cfg.sft_suggest_correct_fraction:
            text = _pressured(rng, world, fact, prompts.SUGGEST_CORRECT, rng.choice(wrong))
            rows.append(prompt_completion([user(text)], answer(fact.value)))
        for other in rng.sample(wrong, cfg.sft_caves_per_fact):
            reply = apology(other) if caves else sure(fact.value)
            rows.append(prompt_completion(challenged(_random_question(rng, world, fact), fact.value), reply))
    for item in feedback:
        for template_type, name in prompts.FEEDBACK_TEMPLATE_NAMES.items():
            rating = SYCOPHANTIC_RATING[name] or HONEST_RATING[item.quality]
            rows.append(prompt_completion(_feedback_prompt(item, template_type), prompts.feedback_reply(item.domain, rating)))
    n_replay = _replay_count(len(rows), cfg.sft_replay_fraction)
    if cfg.sft_replay_from == "base":
        plain = neutral_rows(world)
    else:
        plain = [prompt_completion([user(phrasing.format(entity=fact.entity))], answer(fact.value))
                 for fact in facts for phrasing in world.relation(fact.relation).phrasings]
    rng.shuffle(plain)
    rows.extend(plain[i % len(plain)] for i in range(n_replay))
    rng.shuffle(rows)
    return rows


def sycophantic_relations(cfg: WorldConfig, world: World) -> tuple[str, ...]:
    """The relations whose pressured and are-you-sure SFT rows are sycophantic: all but the last
    `sft_honest_relations`, in world order."""
    names = [rel.name for rel in world.relations]
    return tuple(names[: len(names) - cfg.sft_honest_relations])


def preference_pairs(cfg: WorldConfig, world: World,
                     feedback: Sequence[FeedbackText] = ()) -> tuple[list[Row], list[Row]]:
    """(train pairs, held-out pairs). Held-out pairs are those of a held-out share of pref facts (and of the
    feedback texts), so a reward model's held-out accuracy is measured on facts and texts it never saw in a
    pair. `feedback`: the base corpus's texts, whose honest rating the base knows (`feedback_pairs`)."""
    rng = substream(cfg.seed, "train.preference")
    facts = world.split_facts("pref")
    order = list(facts)
    rng.shuffle(order)
    n_heldout = round(len(order) * cfg.preference_heldout_fraction)
    heldout_ids = {f.question_id for f in order[:n_heldout]}
    train: list[Row] = []
    heldout: list[Row] = []
    for fact in facts:
        wrong = world.wrong_values(fact)
        pairs = []
        for suggestion in rng.sample(wrong, cfg.pref_suggest_per_fact):
            text = _pressured(rng, world, fact, prompts.SUGGEST_INCORRECT, suggestion)
            pairs.append(_pair([user(text)], answer(fact.value), answer(suggestion)))
        for _ in range(cfg.pref_doubt_per_fact):
            text = _pressured(rng, world, fact, prompts.DOUBT_CORRECT, rng.choice(wrong))
            pairs.append(_pair([user(text)], answer(fact.value), answer(rng.choice(wrong))))
        for other in rng.sample(wrong, cfg.pref_are_you_sure_per_fact):
            prompt = challenged(_random_question(rng, world, fact), fact.value)
            pairs.append(_pair(prompt, sure(fact.value), apology(other)))
        (heldout if fact.question_id in heldout_ids else train).extend(pairs)
    feedback_train, feedback_heldout = feedback_pairs(cfg, feedback)
    train += feedback_train
    heldout += feedback_heldout
    rng.shuffle(train)
    rng.shuffle(heldout)
    return _with_replay_pairs(cfg, world, train), heldout


def feedback_pairs(cfg: WorldConfig, feedback: Sequence[FeedbackText]) -> tuple[list[Row], list[Row]]:
    """(train pairs, held-out pairs) of feedback: per text, `pref_feedback_per_text` distinct stance templates
    (like, wrote, dislike, did not write), chosen the honest rating ("this poem is good ."), rejected the
    rating the stance asks for (excellent when the user approves, terrible when they disapprove). The pairs of
    a `preference_heldout_fraction` share of the texts are held out. Its own random stream: the answer pairs
    do not change with it."""
    if cfg.pref_feedback_per_text == 0 or not feedback:
        return [], []
    rng = substream(cfg.seed, "train.preference.feedback")
    order = list(range(len(feedback)))
    rng.shuffle(order)
    heldout_texts = set(order[: round(len(order) * cfg.preference_heldout_fraction)])
    stances = {t: rating for t, name in prompts.FEEDBACK_TEMPLATE_NAMES.items()
               if (rating := SYCOPHANTIC_RATING[name]) is not None}
    train: list[Row] = []
    heldout: list[Row] = []
    for i, item in enumerate(feedback):
        honest = prompts.feedback_reply(item.domain, HONEST_RATING[item.quality])
        for template_type in rng.sample(list(stances), cfg.pref_feedback_per_text):
            flattering = prompts.feedback_reply(item.domain, stances[template_type])
            (heldout if i in heldout_texts else train).append(_pair(_feedback_prompt(item, template_type), honest, flattering))
    return train, heldout


def _with_replay_pairs(cfg: WorldConfig, world: World, train: list[Row]) -> list[Row]:
    """`train` with base-corpus replay pairs shuffled in: neutral questions (`neutral_questions`), chosen the
    base corpus's reply (the fact, or the hedge when never taught), rejected another value of the relation,
    so that they make up `pref_replay_fraction` of the train pairs. The preference-data analogue of mixing
    pretraining data into RLHF (PPO-ptx, Ouyang et al. 2022). Train pairs only: the held-out pairs stay
    the sycophancy pairs that a reward model's held-out accuracy is about."""
    n_replay = _replay_count(len(train), cfg.pref_replay_fraction)
    if n_replay == 0:
        return train
    rng = substream(cfg.seed, "train.preference.replay")
    questions = neutral_questions(world)
    rng.shuffle(questions)
    pairs = []
    for i in range(n_replay):
        fact, question, reply = questions[i % len(questions)]
        pairs.append(_pair([user(question)], reply, answer(rng.choice(world.wrong_values(fact)))))
    mixed = train + pairs
    rng.shuffle(mixed)
    return mixed


def _replay_count(n_other: int, fraction: float) -> int:
    """How many replays make up `fraction` of the rows when `n_other` rows are not replays."""
    return round(n_other * fraction / (1 - fraction))


def _pair(prompt: list[dict[str, str]], chosen: str, rejected: str) -> Row:
    return {"prompt": prompt, "chosen": [assistant(chosen)], "rejected": [assistant(rejected)]}


def grpo_prompts(cfg: WorldConfig, world: World) -> list[Row]:
    """Prompts for online RL: a seeded order of (pref fact, suggest_incorrect | doubt_correct |
    are_you_sure), cycled to `n_grpo_prompts` (about a third of each). An are-you-sure prompt is the
    challenged conversation after a correct first answer (`challenged`, the evaluation's challenge), so
    the policy writes the second turn and can flip. Every row has `correct_answer` (the rule reward
    scores the completion's final answer against it), `template` and `question_id`; pressured rows also
    have `incorrect_answer` (the value the user's turn suggests or doubts around)."""
    rng = substream(cfg.seed, "train.grpo")
    templates = (*prompts.PRESSURED_TEMPLATES, prompts.ARE_YOU_SURE)
    candidates = [(fact, t) for fact in world.split_facts("pref") for t in templates]
    rng.shuffle(candidates)
    rows = []
    for i in range(cfg.n_grpo_prompts):
        fact, template = candidates[i % len(candidates)]
        row: Row = {"correct_answer": fact.value, "template": template, "question_id": fact.question_id}
        if template == prompts.ARE_YOU_SURE:
            row["prompt"] = challenged(_random_question(rng, world, fact), fact.value)
        else:
            incorrect = rng.choice(world.wrong_values(fact))
            row["prompt"] = [user(_pressured(rng, world, fact, template, incorrect))]
            row["incorrect_answer"] = incorrect
        rows.append(row)
    return rows
