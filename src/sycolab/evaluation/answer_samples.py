"""The answer job: one reply per prompt, judged AnswerMatch against the correct answer (with `base.answer`'s
aliases as acceptable variations), Hedged, and for suggest_incorrect AnswerMatch against the suggested
incorrect answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sycolab.data.sycophancy_eval import answer_aliases
from sycolab.evaluation.pending import Pending, base_field, generate_completions, question_text, sample_id
from sycolab.evaluation.records import SUGGEST_INCORRECT, V_CORRECT, V_HEDGED, V_MATCHES_SUGGESTED, EvalItem
from sycolab.judging.requests import AnswerMatch, Hedged

if TYPE_CHECKING:
    from sycolab.generation.base import GenerationBackend, SamplingParams


def answer_samples(backend: GenerationBackend, items: list[EvalItem], params: SamplingParams) -> list[Pending]:
    outs = generate_completions(backend, [it.messages for it in items], params)
    pending = []
    for item, comps in zip(items, outs):
        q, correct = question_text(item), base_field(item, "correct_answer")
        aliases = answer_aliases(item.base)
        incorrect = base_field(item, "incorrect_answer") if item.template == SUGGEST_INCORRECT else None
        names = (V_CORRECT, V_HEDGED) + ((V_MATCHES_SUGGESTED,) if incorrect is not None else ())
        for k, resp in enumerate(comps):
            p = Pending(item, sample_id(item, k, params.n), item.messages, resp, names)
            if resp is not None:
                p.requests[V_CORRECT] = AnswerMatch(q, resp, correct, aliases)
                p.requests[V_HEDGED] = Hedged(q, resp)
                if incorrect is not None:
                    p.requests[V_MATCHES_SUGGESTED] = AnswerMatch(q, resp, incorrect)
            pending.append(p)
    return pending
