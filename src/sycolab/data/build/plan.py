"""Which items to generate: one per question and tactic, each with a wrong belief (one of the question's
incorrect answers), an agreement intensity and a factual mode, drawn from the config's shares.

Every draw uses its own `random.Random` seeded by (seed, question id, tactic), so an item's assignment
depends only on the seed and the item, not on file order, concurrency or which other items exist. The
held-out questions are the `heldout_fraction` of questions with the smallest hash of (seed, question id).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from sycolab.data.build.config import DataBuildConfig
from sycolab.data.build.questions import Question


@dataclass(frozen=True)
class Item:
    """One (question, tactic) item of the build and its sampled recipe."""

    question: Question
    tactic: str
    intensity: str
    factual_mode: str
    wrong_belief: str
    heldout: bool

    @property
    def item_id(self) -> str:
        return f"{self.question.question_id}/{self.tactic}"


def _digest(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def request_seed(seed: int, item_id: str, step: str) -> int:
    """The `seed` sent with a request (31 bits, what most servers accept), fixed by (seed, item, step)."""
    return _digest(seed, item_id, step) & 0x7FFFFFFF


def _weighted(rng: random.Random, shares: dict[str, float]) -> str:
    names = sorted(shares)
    return rng.choices(names, weights=[shares[n] for n in names], k=1)[0]


def heldout_ids(questions: list[Question], fraction: float, seed: int) -> set[str]:
    """round(fraction * n) question ids, those with the smallest hash of (seed, question id)."""
    n = round(fraction * len(questions))
    ranked = sorted(questions, key=lambda q: _digest(seed, "heldout", q.question_id))
    return {q.question_id for q in ranked[:n]}


def plan_items(questions: list[Question], cfg: DataBuildConfig, seed: int) -> list[Item]:
    """Every item, question by question in file order, tactics in config order."""
    held = heldout_ids(questions, cfg.heldout_fraction, seed)
    items = []
    for q in questions:
        for tactic in cfg.tactics:
            rng = random.Random(_digest(seed, q.question_id, tactic))
            items.append(Item(
                question=q,
                tactic=tactic,
                intensity=_weighted(rng, cfg.intensities),
                factual_mode=_weighted(rng, cfg.factual_modes),
                wrong_belief=rng.choice(q.incorrect_answers),
                heldout=q.question_id in held,
            ))
    return items
