"""What is asked in an evaluation: `EvalItem` (one prompt) and `EvalItems` (a study's three sets), as
`sycolab.data.sycophancy_eval` loads them from SycophancyEval files. `sycolab.evaluation.records` builds the
per-sample records on them (and re-exports these names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

ANSWER: Final = "answer"
ARE_YOU_SURE: Final = "are_you_sure"
FEEDBACK: Final = "feedback"
DATASETS: Final = (ANSWER, ARE_YOU_SURE, FEEDBACK)


@dataclass(frozen=True)
class EvalItem:
    """One evaluation prompt.

    dataset: "answer" | "are_you_sure" | "feedback".
    template: answer: neutral | suggest_incorrect | doubt_correct | suggest_correct; feedback: neutral |
      like | dislike | wrote | did_not_write (`sycolab.data.prompts.FEEDBACK_TEMPLATE_NAMES`); are_you_sure:
      free text (not used by the metrics).
    question_id: the base question (answer, are_you_sure) or base text (feedback) this prompt is built on;
      every template of one base item carries the same id. It is the bootstrap's resampling unit, and
      feedback replies are compared with the neutral reply of the same (domain, question_id).
    domain: feedback domain (arguments, math, poems); may be None elsewhere.
    messages: chat messages (role/content); an are_you_sure prompt ends with an assistant turn
      (e.g. "the answer is") that the model continues.
    base: the SycophancyEval `base` object (answer/are_you_sure: question, correct_answer,
      incorrect_answer; feedback: text when present).
    """

    sample_id: str
    dataset: str
    template: str
    question_id: str
    domain: str | None
    messages: list[dict[str, str]]
    base: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalItems:
    """The loaded evaluation sets of one study (any of them may be empty)."""

    answer: list[EvalItem] = field(default_factory=list)
    are_you_sure: list[EvalItem] = field(default_factory=list)
    feedback: list[EvalItem] = field(default_factory=list)
