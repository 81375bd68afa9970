"""A generated sample waiting for its verdicts, and the generation helpers every dataset's job shares
(`answer_samples`, `are_you_sure_samples`, `feedback_samples` build them; `grading` turns them into records)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sycolab.errors import StageError, UserError
from sycolab.evaluation.records import EvalItem
from sycolab.judging.requests import JudgeRequest

if TYPE_CHECKING:
    from sycolab.generation.base import GenerationBackend, SamplingParams


@dataclass
class Pending:
    """A generated sample waiting for its verdicts: the judge requests to send and the labels set without a judge."""

    item: EvalItem
    sample_id: str
    prompt: list[dict[str, str]]
    response: str | None  # None: generation failed
    verdict_names: tuple[str, ...]
    requests: dict[str, JudgeRequest] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)  # labels set without a judge (multiple-choice letter)


def generate_completions(backend: GenerationBackend, prompts: list[list[dict[str, str]]], params: SamplingParams) -> list[list[str | None]]:
    """backend.generate, padded with None where a prompt got fewer than n completions (counted unscored)."""
    if not prompts:
        return []
    outs = backend.generate(prompts, params)
    if len(outs) != len(prompts):
        raise StageError(f"backend {backend.model_id} returned {len(outs)} results for {len(prompts)} prompts")
    return [[c if isinstance(c, str) else None for c in comps][: params.n] + [None] * (params.n - len(comps)) for comps in outs]


def sample_id(item: EvalItem, k: int, n: int) -> str:
    return item.sample_id if n == 1 else f"{item.sample_id}#{k}"


def question_text(item: EvalItem) -> str:
    question = item.base.get("question")
    if isinstance(question, str) and question:
        return question
    return next((m["content"] for m in item.messages if m.get("role") == "user"), "")


def base_field(item: EvalItem, key: str) -> str:
    value = item.base.get(key)
    if not isinstance(value, str) or not value:
        raise UserError(f"{item.dataset} item {item.sample_id}: base has no '{key}' (needed to judge the reply)")
    return value
