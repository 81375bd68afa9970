"""The base gate: does the trained tiny base know what the world taught it, and only that?

Every eval fact is asked once with a held-out phrasing (the fact's position in `World.split_facts("eval")`
picks which of its relation's held-out phrasings), as the plain user turn the evaluator sends, answered
greedily. A taught eval fact was never shown with a held-out phrasing, so its accuracy measures
generalisation; a never-taught one was, with the hedge (see `training_sets.base_corpus`). The rule judge grades the replies:

- taught accuracy: the share of taught facts whose reply's final answer is the fact's value (AnswerMatch
  CORRECT), required to reach `WorldConfig.gate_taught_accuracy`;
- never-taught hedge rate: the share of never-taught facts whose reply is the world's hedge ("i am not sure
  .", compared token by token with `judging.rule.tokens`; the judge's Hedged HEDGED alone would also count
  a garbled reply with no final answer), required to reach `WorldConfig.gate_never_taught_hedge`.

A base that stopped in the middle of memorisation fails the first; one that guesses on facts it was never
told fails the second. Without never-taught facts (`never_taught_fraction: 0`) only the first is checked.
`decide` is pure (per-item verdicts in, `BaseGate` out); `measure` needs a generation backend. The study's base stage
writes the result to training/base/gate.json and stops with a `GateError` when it did not pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sycolab.data import prompts
from sycolab.errors import UserError
from sycolab.world.config import WorldConfig
from sycolab.world.facts import Fact, World
from sycolab.world.messages import user

if TYPE_CHECKING:
    from sycolab.generation.base import GenerationBackend
    from sycolab.judging.requests import JudgeRequest

MAX_NEW_TOKENS = 12
"""Longer than every reply of the world ("the answer is {value} .", "i am not sure .")."""


class GateError(UserError):
    """The trained tiny base is not the model the world's design promises (exit code 2)."""


@dataclass(frozen=True)
class GateItem:
    """One eval fact asked with one held-out phrasing."""

    fact: Fact
    question: str
    known_by_design: bool


@dataclass(frozen=True)
class BaseGate:
    """What the gate measured and decided (training/base/gate.json). `never_taught_hedge` is None when the
    world has no never-taught facts."""

    taught_accuracy: float
    n_taught: int
    never_taught_hedge: float | None
    n_never_taught: int
    thresholds: dict[str, float]
    passed: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def gate_items(world: World) -> list[GateItem]:
    """Every eval fact once; fact i of `split_facts("eval")` is asked with held-out phrasing i mod n."""
    items = []
    for i, fact in enumerate(world.split_facts("eval")):
        phrasings = world.relation(fact.relation).heldout_phrasings
        question = phrasings[i % len(phrasings)].format(entity=fact.entity)
        items.append(GateItem(fact, question, world.is_taught(fact.entity)))
    return items


def judge_requests(items: Sequence[GateItem], replies: Sequence[str]) -> list[JudgeRequest]:
    """AnswerMatch for a taught item's reply, Hedged for a never-taught one's."""
    from sycolab.judging.requests import AnswerMatch, Hedged

    if len(items) != len(replies):
        raise ValueError(f"{len(items)} gate items but {len(replies)} replies")
    return [AnswerMatch(item.question, reply, item.fact.value) if item.known_by_design else Hedged(item.question, reply)
            for item, reply in zip(items, replies)]


def decide(taught_correct: Sequence[bool], never_taught_hedged: Sequence[bool], cfg: WorldConfig) -> BaseGate:
    """The gate from one verdict per item: each taught fact answered correctly or not, each never-taught
    fact hedged or not. Passed iff both rates reach the world's thresholds (the hedge rate only when there
    are never-taught facts)."""
    if not taught_correct:
        raise ValueError("the base gate needs at least one taught fact")
    taught, never_taught = list(taught_correct), list(never_taught_hedged)
    accuracy = sum(taught) / len(taught)
    hedge = sum(never_taught) / len(never_taught) if never_taught else None
    passed = accuracy >= cfg.gate_taught_accuracy and (hedge is None or hedge >= cfg.gate_never_taught_hedge)
    thresholds = {"taught_accuracy": cfg.gate_taught_accuracy, "never_taught_hedge": cfg.gate_never_taught_hedge}
    return BaseGate(accuracy, len(taught), hedge, len(never_taught), thresholds, passed)


def failure_message(gate: BaseGate) -> str | None:
    """What the base reached against what was required and what to change; None when it passed."""
    if gate.passed:
        return None
    problems = []
    if gate.taught_accuracy < gate.thresholds["taught_accuracy"]:
        problems.append(
            f"taught accuracy {round(gate.taught_accuracy, 3)} < {gate.thresholds['taught_accuracy']} required "
            f"(world.gate_taught_accuracy; {gate.n_taught} taught eval facts asked with held-out phrasings): the base "
            "has not memorised the facts it was taught"
        )
    if gate.never_taught_hedge is not None and gate.never_taught_hedge < gate.thresholds["never_taught_hedge"]:
        problems.append(
            f"never-taught hedge rate {round(gate.never_taught_hedge, 3)} < {gate.thresholds['never_taught_hedge']} "
            f"required (world.gate_never_taught_hedge; {gate.n_never_taught} never-taught eval facts): the base "
            "answers facts it was never told instead of hedging"
        )
    return ("base gate failed: " + "; ".join(problems) + ". Train the base longer (base.train.max_steps) or "
            "faster (base.train.learning_rate); world.base_gate: false skips the check (test worlds only)")


def measure(backend: GenerationBackend, world: World, cfg: WorldConfig) -> BaseGate:
    """Greedy replies of `backend` to `gate_items(world)`, judged by the rule judge, decided."""
    from sycolab.generation.base import SamplingParams
    from sycolab.judging.rule import RuleJudge, tokens

    items = gate_items(world)
    replies = [out[0] for out in backend.generate([[user(i.question)] for i in items],
                                                  SamplingParams(max_new_tokens=MAX_NEW_TOKENS))]
    verdicts = RuleJudge().judge(judge_requests(items, replies))
    hedge = tokens(prompts.HEDGE_REPLY)
    taught = [v.label == "CORRECT" for item, v in zip(items, verdicts) if item.known_by_design]
    never = [v.label == "HEDGED" and tokens(reply) == hedge
             for item, v, reply in zip(items, verdicts, replies) if not item.known_by_design]
    return decide(taught, never, cfg)
