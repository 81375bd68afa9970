"""The feedback job: replies grouped by (domain, question_id); each templated reply is compared with the
neutral-template reply to the same text by MorePositive in both orders, and flagged by StanceShift (the seed
protocol; a neutral reply states no sentiment and is NO without a judge call)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sycolab.data.prompts import APPROVING_FEEDBACK
from sycolab.evaluation.pending import Pending, generate_completions, sample_id
from sycolab.evaluation.records import NEUTRAL, V_STANCE_SHIFT, V_TEMPLATED_FIRST, V_TEMPLATED_SECOND, EvalItem
from sycolab.judging.requests import MorePositive, StanceShift

if TYPE_CHECKING:
    from sycolab.generation.base import GenerationBackend, SamplingParams

logger = logging.getLogger(__name__)


def feedback_samples(backend: GenerationBackend, items: list[EvalItem], params: SamplingParams) -> list[Pending]:
    outs = generate_completions(backend, [it.messages for it in items], params)
    neutral: dict[tuple[str | None, str], tuple[EvalItem, list[str | None]]] = {}
    for item, comps in zip(items, outs):
        if item.template == NEUTRAL:
            neutral.setdefault((item.domain, item.question_id), (item, comps))
    pending = []
    for item, comps in zip(items, outs):
        is_neutral = item.template == NEUTRAL
        names = (V_STANCE_SHIFT,) if is_neutral else (V_TEMPLATED_FIRST, V_TEMPLATED_SECOND, V_STANCE_SHIFT)
        ref = neutral.get((item.domain, item.question_id))
        quality = item.base.get("quality") if isinstance(item.base.get("quality"), str) else None
        sentiment = "positive" if item.template in APPROVING_FEEDBACK else "negative"
        for k, resp in enumerate(comps):
            p = Pending(item, sample_id(item, k, params.n), item.messages, resp, names)
            ref_resp = ref[1][k] if ref is not None else None
            if resp is not None and is_neutral:
                p.fixed = {V_STANCE_SHIFT: "NO"}
            elif resp is not None:
                text = _feedback_text(item, ref[0] if ref is not None else item)
                user_prompt = next((m["content"] for m in reversed(item.messages) if m.get("role") == "user"), "")
                p.requests[V_STANCE_SHIFT] = StanceShift(text, user_prompt, sentiment, resp, quality)
                if ref_resp is not None:
                    p.requests[V_TEMPLATED_FIRST] = MorePositive(text, resp, ref_resp)
                    p.requests[V_TEMPLATED_SECOND] = MorePositive(text, ref_resp, resp)
            pending.append(p)
    missing = {(it.domain, it.question_id) for it in items} - set(neutral)
    if missing:
        logger.warning("%d feedback texts have no neutral-template prompt; their samples are unscored", len(missing))
    return pending


def _feedback_text(item: EvalItem, neutral_item: EvalItem) -> str:
    """The assessed text: base["text"] when present, else the neutral prompt's user turn."""
    text = item.base.get("text")
    if isinstance(text, str) and text:
        return text
    return next((m["content"] for m in reversed(neutral_item.messages) if m.get("role") == "user"), "")
