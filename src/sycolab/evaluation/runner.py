"""Behavioural evaluation of one model: generate replies, judge them, write records and metrics.

Flow (all generation first, then one batched judge call, so an HTTP judge sees every request at once), one
module per job: `answer_samples`, `are_you_sure_samples` and `feedback_samples` generate each dataset's
replies and build their judge requests (`pending.Pending`); `grading` sends every request in one judge call
and builds the records. The are-you-sure challenge is the tiny world's own on world data, else
`cfg.are_you_sure_challenge` (its `{incorrect_answer}` filled per item); every challenge is built before
anything is generated.
With `scope` and the rule judge configured, data that is not the tiny world's is refused before any
generation (`sycolab.evaluation.scope`).
Writes `out_dir/samples.jsonl` then `out_dir/metrics.json`, each atomically. With the backend's
generation cache and the verdict cache, a second call regenerates nothing and judges nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sycolab.data.prompts import ARE_YOU_SURE_CHALLENGE
from sycolab.errors import UserError
from sycolab.evaluation.answer_samples import answer_samples
from sycolab.evaluation.are_you_sure_samples import are_you_sure_samples, challenge_for
from sycolab.evaluation.feedback_samples import feedback_samples
from sycolab.evaluation.grading import grade
from sycolab.evaluation.metrics import ModelMetrics, build_model_metrics
from sycolab.evaluation.records import ANSWER, ARE_YOU_SURE, FEEDBACK, EvalItem, EvalItems
from sycolab.io import atomic_write_json, write_jsonl
from sycolab.judging.base import Judge

if TYPE_CHECKING:
    from sycolab.evaluation.config import EvaluateConfig
    from sycolab.evaluation.expected_rating import RatedPrompts
    from sycolab.evaluation.scope import DataScope
    from sycolab.generation.base import GenerationBackend

logger = logging.getLogger(__name__)

SAMPLES_FILE = "samples.jsonl"
METRICS_FILE = "metrics.json"


def evaluate_model(
    name: str,
    backend: GenerationBackend,
    judge: Judge,
    items: EvalItems,
    cfg: EvaluateConfig,
    out_dir: Path,
    *,
    proxy: Mapping[str, Any] | None = None,
    scope: DataScope | None = None,
    seen_questions: set[str] | None = None,
    provenance: Mapping[str, Any] | None = None,
    ratings: RatedPrompts | None = None,
) -> ModelMetrics:
    """Evaluate model `name` (served by `backend`) on `items`, graded by `judge`; write
    `out_dir/samples.jsonl` and `out_dir/metrics.json` and return the metrics. `proxy` (the logit
    proxy's summary for this model, `ProxyResult.summary()`) is stored beside the judged metrics and
    compared with them. `scope` says which sets are the tiny world's (challenge, rule-judge limit, and
    the source of each metric); without it every set counts as external data. `seen_questions`: answer
    question ids that also occur in the training data (answer metrics then also per seen/unseen part).
    `provenance` (judge, generation settings, data files and hashes, weights) is stored as metrics.json
    "provenance". `ratings`: the expected rating of the feedback prompts (`sycolab.evaluation.expected_rating`,
    computed by the caller, which holds the model), stored as feedback_rating_shift and per-template breakdown."""
    _check_datasets(items)
    if scope is not None and cfg.judge.kind == "rule":
        scope.require_world(judge.judge_id)
    world_ays = scope is not None and scope.is_world(ARE_YOU_SURE)
    challenge = ARE_YOU_SURE_CHALLENGE if world_ays else cfg.are_you_sure_challenge
    limit = cfg.max_items_per_dataset
    answer = limit_questions(items.answer, limit)
    ays = limit_questions(items.are_you_sure, limit)
    feedback = limit_questions(items.feedback, limit)
    challenges = [challenge_for(item, challenge) for item in ays]  # every problem before any generation
    params = cfg.generation.sampling_params()
    logger.info("evaluating %s: %d answer, %d are_you_sure, %d feedback prompts", name, len(answer), len(ays), len(feedback))
    pending = (
        answer_samples(backend, answer, params)
        + are_you_sure_samples(backend, ays, params, challenges, cfg.generation.constrain_mc_letter)
        + feedback_samples(backend, feedback, params)
    )
    records, flags = grade(judge, pending)
    result = build_model_metrics(name, records, n_resamples=cfg.bootstrap_resamples, seed=cfg.bootstrap_seed,
                                 proxy=proxy, sources=scope.sources if scope is not None else None,
                                 challenge=challenge if ays else None, protocols=cfg.protocols, seen=seen_questions,
                                 ratings=ratings)
    result.flags = flags + result.flags
    result.provenance = dict(provenance) if provenance is not None else None
    out_dir = Path(out_dir)
    write_jsonl(out_dir / SAMPLES_FILE, (r.to_dict() for r in records))
    atomic_write_json(out_dir / METRICS_FILE, result.to_dict())
    logger.info("wrote %s and %s", out_dir / SAMPLES_FILE, out_dir / METRICS_FILE)
    return result


def _check_datasets(items: EvalItems) -> None:
    for expected, group in ((ANSWER, items.answer), (ARE_YOU_SURE, items.are_you_sure), (FEEDBACK, items.feedback)):
        wrong = next((it for it in group if it.dataset != expected), None)
        if wrong is not None:
            raise UserError(f"item {wrong.sample_id}: dataset {wrong.dataset!r} given among the {expected} items")


def limit_questions(items: Sequence[EvalItem], max_questions: int | None) -> list[EvalItem]:
    """Items of the first `max_questions` distinct question ids (file order), so that every template of a
    kept question stays; all items when `max_questions` is None."""
    if max_questions is None:
        return list(items)
    keep: set[str] = set()
    out = []
    for item in items:
        if item.question_id not in keep and len(keep) < max_questions:
            keep.add(item.question_id)
        if item.question_id in keep:
            out.append(item)
    return out
