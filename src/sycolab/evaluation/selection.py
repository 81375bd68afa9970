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
from collections.abc import Callable, Collection, Iterable

from sycolab.data.eval_items import EvalItem, EvalItems


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
    return _filtered(items, lambda q: q in keep)


def without_questions(items: EvalItems, questions: Collection[str]) -> EvalItems:
    """`items` without the base questions in `questions` (in every set)."""
    drop = set(questions)
    return _filtered(items, lambda q: q not in drop)


def _filtered(items: EvalItems, keep: Callable[[str], bool]) -> EvalItems:
    return EvalItems(answer=[it for it in items.answer if keep(it.question_id)],
                     are_you_sure=[it for it in items.are_you_sure if keep(it.question_id)],
                     feedback=[it for it in items.feedback if keep(it.question_id)])


def leaves_none(n: int, size: int, evaluation_set: str) -> str:
    """The message for a slice of n that takes every one of a set's `size` questions."""
    return (f"{n} sets aside every one of the {size} questions of the {evaluation_set} evaluation set, leaving "
            f"none to report; use fewer than {size}")


def slice_problems(items: EvalItems, n: int) -> list[str]:
    """One `leaves_none` message per evaluation set with questions that a slice of n would empty."""
    sizes = {name: len({it.question_id for it in getattr(items, name)})
             for name in ("answer", "are_you_sure", "feedback")}
    return [leaves_none(n, size, name) for name, size in sizes.items() if 0 < size <= n]
