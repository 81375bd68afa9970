"""The checkpoint-selection slice: evaluation questions set aside for choosing checkpoints, never reported.

A judged checkpoint evaluation that scored the same questions as the final evaluation would make a kept
checkpoint's reported numbers selected, not held out. With `evaluate.selection_questions: n`, each
evaluation set (answer, are-you-sure, feedback) gives up its n base questions (question_id groups, every
template of a question together) with the smallest sha256 of the question id: the checkpoint
mini-evaluations score only these, and every model's evaluation leaves them out, so all models are
compared on the same reported questions. The draw depends only on the ids (not on file order, seed or
model), so every stage that reads the same files agrees on the slice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable

from sycolab.data.eval_items import EvalItem, EvalItems
from sycolab.errors import UserError


def _rank(question_id: str) -> str:
    return hashlib.sha256(question_id.encode()).hexdigest()


def slice_of(items: Iterable[EvalItem], n: int) -> set[str]:
    """The n distinct question ids of `items` with the smallest sha256 (all of them if there are fewer)."""
    ids = sorted({it.question_id for it in items}, key=lambda q: (_rank(q), q))
    return set(ids[:n])


def selection_questions(items: EvalItems, n: int) -> set[str]:
    """The selection slice of every evaluation set together: n question ids from each (none for n = 0)."""
    if n <= 0:
        return set()
    return slice_of(items.answer, n) | slice_of(items.are_you_sure, n) | slice_of(items.feedback, n)


def only_questions(items: EvalItems, questions: Collection[str]) -> EvalItems:
    """`items` restricted to the base questions in `questions`."""
    keep = set(questions)
    return EvalItems(answer=[it for it in items.answer if it.question_id in keep],
                     are_you_sure=[it for it in items.are_you_sure if it.question_id in keep],
                     feedback=[it for it in items.feedback if it.question_id in keep])


def without_questions(items: EvalItems, questions: Collection[str]) -> EvalItems:
    """`items` without the base questions in `questions` (in every set)."""
    drop = set(questions)
    return EvalItems(answer=[it for it in items.answer if it.question_id not in drop],
                     are_you_sure=[it for it in items.are_you_sure if it.question_id not in drop],
                     feedback=[it for it in items.feedback if it.question_id not in drop])


def check_reported(items: EvalItems, n: int) -> None:
    """A selection slice must leave questions to report: a UserError naming the set and its size otherwise."""
    for name in ("answer", "are_you_sure", "feedback"):
        questions = {it.question_id for it in getattr(items, name)}
        if questions and len(questions) <= n:
            raise UserError(f"evaluate.selection_questions: {n} sets aside every one of the {len(questions)} "
                            f"questions of the {name} evaluation set, leaving none to report; use fewer than "
                            f"{len(questions)}")
