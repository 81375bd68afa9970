"""Evaluation sets in Anthropic's SycophancyEval schema (answer, are_you_sure, feedback) and the
logit-proxy items, all on `eval` entities asked with held-out phrasings (never seen with a taught eval
entity in training; a never-taught entity is seen with them, answered with the hedge), so plain accuracy is high but
below perfect. `base.known_by_design` says whether the base
corpus taught the fact (False: a never-taught fact, which a base that passed its gate hedges on); each of
answer.jsonl and are_you_sure.jsonl holds exactly `n_never_taught_questions(n)` never-taught questions.

Each line is `{"prompt": [{"type": "human"|"ai", "content"}], "base": {...}, "metadata": {...}}`;
`metadata.prompt_template` is the template with placeholders, as in Anthropic's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sycolab.data import prompts
from sycolab.world.config import WorldConfig
from sycolab.world.facts import Fact, World, substream
from sycolab.world.feedback_texts import FeedbackText
from sycolab.world.messages import ai_turn, answer, human_turn, user

DATASET_NAME = "tiny_world"


@dataclass(frozen=True)
class EvalQuestion:
    """A base question: a fact asked with one held-out phrasing, and the wrong answer a user suggests."""

    fact: Fact
    question: str
    incorrect_answer: str
    known_by_design: bool = True

    def base(self) -> dict[str, Any]:
        return {
            "dataset": DATASET_NAME,
            "question": self.question,
            "correct_answer": self.fact.value,
            "incorrect_answer": self.incorrect_answer,
            "question_id": self.fact.question_id,
            "entity": self.fact.entity,
            "relation": self.fact.relation,
            "known_by_design": self.known_by_design,
        }


def select_eval_questions(cfg: WorldConfig, world: World) -> tuple[list[EvalQuestion], list[EvalQuestion]]:
    """Base questions for answer.jsonl and are_you_sure.jsonl. Each set holds exactly
    `cfg.n_never_taught_questions(n)` questions about never-taught facts and the rest about taught ones,
    in a seeded order; the two sets use disjoint facts while a pool has enough (the defaults need 192 of
    the 190 taught facts, so two taught facts are asked in both sets, and 48 of the 50 never-taught)."""
    rng = substream(cfg.seed, "eval.questions")
    pools: dict[bool, list[Fact]] = {}
    for known in (True, False):
        pool = [f for f in world.split_facts("eval") if world.is_taught(f.entity) == known]
        rng.shuffle(pool)
        pools[known] = pool
    used = {True: 0, False: 0}

    def draw(n: int) -> list[EvalQuestion]:
        n_never = cfg.n_never_taught_questions(n)
        picked: list[tuple[Fact, bool]] = []
        for known, count in ((True, n - n_never), (False, n_never)):
            pool = pools[known]
            picked += [(pool[(used[known] + i) % len(pool)], known) for i in range(count)]
            used[known] += count
        rng.shuffle(picked)
        questions = []
        for fact, known in picked:
            phrasing = rng.choice(world.relation(fact.relation).heldout_phrasings)
            incorrect = rng.choice(world.wrong_values(fact))
            questions.append(EvalQuestion(fact, phrasing.format(entity=fact.entity), incorrect, known))
        return questions

    return draw(cfg.n_eval_questions), draw(cfg.n_are_you_sure)


def answer_rows(questions: list[EvalQuestion]) -> list[dict[str, Any]]:
    """Four lines per base question, one per template (neutral, suggest_incorrect, doubt_correct, suggest_correct)."""
    rows = []
    for q in questions:
        for template, text in prompts.ANSWER_TEMPLATES.items():
            content = prompts.render_answer_prompt(template, q.question, q.fact.value, q.incorrect_answer)
            rows.append({"prompt": [human_turn(content)], "base": q.base(), "metadata": {"prompt_template": text}})
    return rows


def are_you_sure_rows(questions: list[EvalQuestion]) -> list[dict[str, Any]]:
    """The first turn of each conversation: the question, then an ai turn "the answer is" that the model
    continues. The evaluator appends the full first answer and `ARE_YOU_SURE_CHALLENGE`."""
    return [
        {
            "prompt": [human_turn(q.question), ai_turn(prompts.ANSWER_PREFIX)],
            "base": q.base(),
            "metadata": {"prompt_template": "{question}"},
        }
        for q in questions
    ]


def feedback_rows(texts: list[FeedbackText]) -> list[dict[str, Any]]:
    """Five lines per text, one per template type ("", "I really like", "I really dislike", "I wrote",
    "I did not write"); texts of a domain share ids `{domain}.{index}`."""
    rows = []
    counters: dict[str, int] = {}
    for item in texts:
        index = counters.get(item.domain, 0)
        counters[item.domain] = index + 1
        base = {
            "dataset": item.domain,
            "text": item.text,
            "quality": item.quality,
            "question_id": f"{item.domain}.{index:03d}",
        }
        for template_type in prompts.FEEDBACK_TEMPLATE_TYPES:
            template = prompts.feedback_prompt_template(item.domain, template_type)
            rows.append(
                {
                    "prompt": [human_turn(template.format(text=item.text))],
                    "base": base,
                    "metadata": {"prompt_template": template, "prompt_template_type": template_type},
                }
            )
    return rows


def proxy_rows(questions: list[EvalQuestion]) -> list[dict[str, Any]]:
    """Logit-proxy items: the suggest_incorrect prompt of each answer question, with the correct and
    the suggested reply (compared by log-probability at the answer position). `question` lets a
    caller rebuild the neutral prompt."""
    rows = []
    for q in questions:
        content = prompts.render_answer_prompt(prompts.SUGGEST_INCORRECT, q.question, q.fact.value, q.incorrect_answer)
        rows.append(
            {
                "prompt": [user(content)],
                "correct": answer(q.fact.value),
                "suggested": answer(q.incorrect_answer),
                "question_id": q.fact.question_id,
                "question": q.question,
                "template": prompts.SUGGEST_INCORRECT,
            }
        )
    return rows
