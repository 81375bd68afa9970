"""The checkpoint policy: evaluate the live model during training, by the judge and by the logit proxy,
and keep the best checkpoint.

Every `eval_every` optimiser steps, and once more at the end of training if the last step was not
evaluated, the callback scores the live model with its scorer. The study's scorer (`MiniEvaluation`) runs
the judged evaluation (`sycolab.evaluation.runner.evaluate_model`: generation with the live weights, the
study's judge and its verdict cache) on the first `eval_questions` questions of each evaluation set the
judged metric needs, and the logit proxy (`sycolab.evaluation.proxy`) on the same answer questions; its
samples, metrics (with the proxy-vs-judge comparison) and per-item proxy scores go to
`checkpoint_evals/step-<N>/`. The scores are flat: `judged.<metric>` and `proxy.<metric>`. Every row is
appended to `checkpoints.csv` next to `best/`, with the seconds each evaluation took.

When the selection value (`judged.<judged_metric>` or `proxy.<proxy_metric>`, lower is better) beats
every earlier one, the model and tokenizer are saved to `best/` (a PEFT model saves its adapter). A
checkpoint whose judged plain accuracy is below `min_plain_accuracy`, or whose judged hedged rate is above
`max_hedged_rate`, is never kept by the judge. `best/`
lives beside TRL's `checkpoints/` folder, never inside it, so `save_total_limit` rotation cannot delete it.

Generations of the live weights are not cached (those weights exist only for this step); the verdicts are
(the judge's cache is keyed by the request). The mini-evaluation's questions are the selection slice
(`evaluate.selection_questions`, `sycolab.evaluation.selection`), which no model's final evaluation
scores, so a kept checkpoint's reported numbers are held out; without a slice (0) they are the first
questions of the evaluation sets, which the final evaluation also scores (the study refuses judged or
proxy selection then; `summary.json` records which).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from sycolab.errors import ConfigError
from sycolab.io import atomic_dir, atomic_write_json, read_jsonl, write_jsonl
from sycolab.methods.config import CheckpointPolicy
from sycolab.store.records.training import write_training_table

Scorer = Callable[[Any, Any, int], dict[str, float | None]]
"""`scorer(model, tokenizer, step) -> {"judged.answer_sycophancy_rate": ..., "proxy.proxy_sycophancy": ..., ...}`"""

TABLE = "checkpoints.csv"
EVALS_DIR = "checkpoint_evals"
#: Judged values stored per evaluation beside the selection metric (breakdown names included).
JUDGED_COLUMNS = ("plain_accuracy", "hedged_rate", "answer_sycophancy_rate", "answer_sycophancy_gap",
                  "answer.suggest_incorrect.adopted", "answer.suggest_incorrect.gap")
#: Proxy values stored per evaluation.
PROXY_COLUMNS = ("proxy_sycophancy", "logit_gap", "gap", "gap.ci_low", "gap.ci_high", "gap.suggest_incorrect",
                 "gap.suggest_incorrect.ci_low", "gap.suggest_incorrect.ci_high", "adoption.suggest_incorrect",
                 "adoption.suggest_incorrect.ci_low", "adoption.suggest_incorrect.ci_high", "accuracy.neutral")


def selection_key(policy: CheckpointPolicy) -> str | None:
    """The score column that ranks checkpoints (None under select_by last)."""
    if policy.select_by == "judged":
        return f"judged.{policy.judged_metric}"
    if policy.select_by == "proxy":
        return f"proxy.{policy.proxy_metric}"
    return None


def proxy_file_scorer(proxy_path: Path, policy: CheckpointPolicy) -> Scorer:
    """The logit proxy alone on the items of `proxy_path` (the first `policy.proxy_max_items`): for a method
    run without evaluation sets."""
    from sycolab.evaluation.proxy import logit_proxy

    items = read_jsonl(proxy_path)[: policy.proxy_max_items]

    def score(model: Any, tokenizer: Any, step: int) -> dict[str, float | None]:
        summary = logit_proxy(model, tokenizer, items, batch_size=policy.proxy_batch_size).summary()
        return {f"proxy.{k}": summary.get(k) for k in PROXY_COLUMNS}

    return score


class MiniEvaluation:
    """The judged mini-evaluation plus the logit proxy on the same answer questions (module docstring).

    `data`: the evaluation sets (answer, are_you_sure, feedback) and optionally the world's `world` file
    (world.json) and `proxy` file; `evaluate`: the study's evaluate section (dict or EvaluateConfig);
    `cache_dir`: the run's cache folder (verdicts.sqlite); `out_dir`: where step-<N>/ folders go.
    """

    def __init__(self, name: str, policy: CheckpointPolicy, data: dict[str, Path], evaluate: Any, cache_dir: Path,
                 out_dir: Path):
        from sycolab.data.sycophancy_eval import load_eval_items
        from sycolab.evaluation.config import EvaluateConfig
        from sycolab.evaluation.metrics import METRIC_DATASET
        from sycolab.evaluation.proxy import proxy_items_for
        from sycolab.evaluation.records import EvalItems
        from sycolab.evaluation.runner import limit_questions
        from sycolab.evaluation.scope import data_scope
        from sycolab.evaluation.selection import only_questions, selection_questions
        from sycolab.judging import build_judge

        cfg = evaluate if isinstance(evaluate, EvaluateConfig) else EvaluateConfig.model_validate(evaluate)
        # the datasets the selection metric reads (an aggregate reads all three); answer always (the proxy's)
        needed = {"answer", METRIC_DATASET.get(policy.judged_metric, "")} - {""}
        if "aggregate" in policy.judged_metric:
            needed |= {"are_you_sure", "feedback"}
        missing = sorted(d for d in needed if d not in data)
        if missing:
            problem = (f"checkpoint.judged_metric {policy.judged_metric!r} needs the evaluation set(s) {missing}, "
                       "which this training run was not given")
            raise ConfigError("checkpoint", [problem])
        loaded = load_eval_items(**{d: data[d] for d in needed})
        if cfg.selection_questions > 0:
            loaded = only_questions(loaded, selection_questions(loaded, cfg.selection_questions))
        n = policy.eval_questions
        self.items = EvalItems(answer=limit_questions(loaded.answer, n), are_you_sure=limit_questions(loaded.are_you_sure, n),
                               feedback=limit_questions(loaded.feedback, n))
        self.scope = data_scope(self.items, {d: data[d] for d in needed}, data.get("world"))
        if cfg.judge.kind == "rule":
            self.scope.require_world("rule")
        questions = {it.question_id for it in self.items.answer}
        world_proxy = data.get("proxy") if self.scope.is_world("answer") else None
        self.proxy_items = [it for it in proxy_items_for(self.items.answer, self.scope.is_world("answer"), world_proxy)
                            if it.question_id in questions]
        self.cfg = cfg.model_copy(update={"max_items_per_dataset": None, "selection_questions": 0})
        self.judge = build_judge(cfg.judge, Path(cache_dir) / "verdicts.sqlite")
        self.name, self.policy, self.out_dir = name, policy, Path(out_dir)
        self.selection_questions = cfg.selection_questions

    @property
    def held_out(self) -> bool:
        """Whether the questions are the selection slice, which no model's evaluation scores."""
        return self.selection_questions > 0

    def describe(self) -> dict[str, Any]:
        """What was evaluated (for summary.json)."""
        return {"questions_per_set": self.policy.eval_questions, "answer_prompts": len(self.items.answer),
                "are_you_sure_prompts": len(self.items.are_you_sure), "feedback_prompts": len(self.items.feedback),
                "proxy_items": len(self.proxy_items), "judge": self.judge.judge_id,
                "held_out": self.held_out,
                "note": (f"the selection slice (evaluate.selection_questions: {self.selection_questions}), which no "
                         "model's final evaluation scores" if self.held_out else
                         "the first questions of the evaluation sets, which the final evaluation also scores")}

    def __call__(self, model: Any, tokenizer: Any, step: int) -> dict[str, float | None]:
        from sycolab.evaluation.proxy import logit_proxy
        from sycolab.evaluation.runner import evaluate_model
        from sycolab.generation.hf import HFBackend

        out = self.out_dir / f"step-{step}"
        proxy = logit_proxy(model, tokenizer, self.proxy_items, batch_size=self.policy.proxy_batch_size,
                            n_resamples=self.cfg.bootstrap_resamples, seed=self.cfg.bootstrap_seed)
        write_jsonl(out / "proxy_items.jsonl", proxy.item_rows())
        backend = HFBackend(model, tokenizer, model_id=f"{self.name}@step-{step}",
                            batch_size=self.cfg.generation.batch_size, progress=False)
        result = evaluate_model(f"{self.name}@step-{step}", backend, self.judge, self.items, self.cfg, out,
                                proxy=proxy.summary(), scope=self.scope).to_dict()
        judged = {**result["breakdown"], **result["metrics"]}
        names = dict.fromkeys((*JUDGED_COLUMNS, self.policy.judged_metric))
        row: dict[str, float | None] = {f"judged.{k}": (judged.get(k) or {}).get("value") for k in names}
        for k in names:
            row[f"judged.{k}.ci_low"] = (judged.get(k) or {}).get("ci_low")
            row[f"judged.{k}.ci_high"] = (judged.get(k) or {}).get("ci_high")
        summary = proxy.summary()
        row.update({f"proxy.{k}": summary.get(k) for k in PROXY_COLUMNS})
        return row


def _number(raw: Any) -> float | None:
    if raw is None:
        return None
    value = float(raw)
    return None if math.isnan(value) else value


class CheckpointCallback(TrainerCallback):
    """Scores the model every `policy.eval_every` steps and saves the best one so far (by
    `selection_key(policy)`) in `best_dir`; every row goes to `checkpoints.csv` beside it."""

    def __init__(self, policy: CheckpointPolicy, scorer: Scorer, best_dir: Path):
        if policy.eval_every is None:
            raise ValueError("CheckpointCallback needs policy.eval_every")
        self.policy, self.scorer, self.best_dir = policy, scorer, Path(best_dir)
        self.key = selection_key(policy)
        self.history: list[dict[str, Any]] = []
        self.best_step: int | None = None
        self.best_value: float | None = None

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if state.global_step % self.policy.eval_every == 0:
            self.evaluate(state.global_step, model, kwargs.get("processing_class"), state)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not self.history or self.history[-1]["step"] != state.global_step:
            self.evaluate(state.global_step, model, kwargs.get("processing_class"), state)

    def eligible(self, scores: dict[str, Any]) -> bool:
        """Under select_by judged, a checkpoint below the plain-accuracy floor or above the hedged-rate ceiling
        is never kept (a missing value does not exclude it)."""
        if self.policy.select_by != "judged":
            return True
        floor, ceiling = self.policy.min_plain_accuracy, self.policy.max_hedged_rate
        plain, hedged = _number(scores.get("judged.plain_accuracy")), _number(scores.get("judged.hedged_rate"))
        return ((floor is None or plain is None or plain >= floor)
                and (ceiling is None or hedged is None or hedged <= ceiling))

    def evaluate(self, step: int, model: Any, tokenizer: Any, state: Any = None) -> float | None:
        """Score the model at `step`; save it to `best_dir` if it is the best so far. Returns the selection
        value (None under select_by last, or when missing)."""
        if state is not None and not getattr(state, "is_world_process_zero", True):
            return None
        start = time.perf_counter()
        scores = self.scorer(model, tokenizer, step)
        seconds = time.perf_counter() - start
        value = _number(scores.get(self.key)) if self.key is not None else None
        is_best = (value is not None and self.eligible(scores)
                   and (self.best_value is None or value < self.best_value))
        self.history.append({"step": step, **scores, "seconds": round(seconds, 3), "kept": is_best})
        if is_best:
            self.best_step, self.best_value = step, value
            self._save(model, tokenizer, step, value)
        write_training_table(self.best_dir.parent / TABLE, self.history)
        return value

    def _save(self, model: Any, tokenizer: Any, step: int, value: float | None) -> None:
        with atomic_dir(self.best_dir) as tmp:
            model.save_pretrained(tmp)
            if tokenizer is not None:
                tokenizer.save_pretrained(tmp)
            atomic_write_json(tmp / "best.json", {"step": step, "metric": self.key, "value": value})

    def summary(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        return {
            "select_by": self.policy.select_by,
            "metric": self.key,
            "best_step": self.best_step,
            "best_value": self.best_value,
            "last_step": last.get("step"),
            "last_value": last.get(self.key) if self.key else None,
            "evaluations": len(self.history),
            "evaluation_seconds": round(sum(r["seconds"] for r in self.history), 3),
        }
