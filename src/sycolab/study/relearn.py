"""The relearn stages: how fast does sycophancy come back when a recovered model is fine-tuned on the
sycophantic data again? (The reference study's first post: "DPO relearns in 5 steps, base needs 50+".)

`relearn:<model>` re-runs the induction SFT (the study's `induce` config, `max_steps: relearn.steps`, a TRL
checkpoint every `relearn.eval_every` steps) from stored model `<model>`, then evaluates the model at step 0
and at every checkpoint with the same judged mini-evaluation: the first `relearn.max_questions` answer and
are-you-sure questions of the study's evaluation sets, the study's judge and generation settings
(`sycolab.evaluation.runner.evaluate_model`), with the logit proxy on the same answer data beside it. Every
row of `relearn/<model>.csv` carries the same columns, so judged and proxy values are never mixed along a
curve (the reference table put a judged value at step 0 beside logit values after it).
`relearn:sft` evaluates SFT at step 0 only: the value the report's steps-to-threshold aims at.

Files: relearn/<model>.csv (one row per evaluated step), relearn/<model>/step-<k>/{samples.jsonl,
metrics.json}; the relearned checkpoints are deleted once evaluated unless `relearn.keep_checkpoints`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sycolab.errors import UserError

if TYPE_CHECKING:
    from sycolab.study.pipeline import Study

RELEARN_DIR = "relearn"
REFERENCE = "sft"
METRICS = ("answer_sycophancy_rate", "flip_rate", "plain_accuracy")
PROXY = ("proxy_sycophancy", "logit_gap")
COLUMNS = ["model", "step", *(f"{m}{s}" for m in METRICS for s in ("", "_ci_low", "_ci_high", "_n")), *PROXY]


def relearn_models(study: Study) -> list[str]:
    """`relearn.models`, or base and every recovered causal LM; SFT (step 0 only) is always added first."""
    produced = study.evaluated_models()
    chosen = study.cfg.relearn.models
    if chosen is None:
        chosen = [m for m in produced if m != REFERENCE]
    unknown = [m for m in chosen if m not in produced]
    if unknown:
        raise UserError(f"relearn.models: {unknown} not among this study's models ({', '.join(produced)})")
    return [REFERENCE, *(m for m in chosen if m != REFERENCE)]


def evaluation_steps(steps: int, eval_every: int) -> list[int]:
    """0, eval_every, 2 * eval_every, ... and always the last step: (50, 20) -> [0, 20, 40, 50]."""
    return sorted({0, *range(eval_every, steps + 1, eval_every), steps})


def relearn_model(study: Study, name: str) -> dict[str, Any]:
    """Run the relearn stage of stored model `name` (module docstring); returns the step-0 and last values."""
    from sycolab.io import write_table
    from sycolab.study.evaluate import StoredModel, _backend, cached_proxy

    cfg = study.cfg.relearn
    out = study.store.root / RELEARN_DIR / name
    shutil.rmtree(out, ignore_errors=True)  # a stage is redone from scratch
    items, scope, proxy_items = _mini_items(study)
    evaluate_cfg = study.cfg.evaluate.model_copy(update={"max_items_per_dataset": cfg.max_questions})
    stored = StoredModel(study, name)
    rows = [_evaluate(study, name, 0, _backend(study, stored), items, scope, evaluate_cfg, out,
                      cached_proxy(study, stored, proxy_items))]
    if name != REFERENCE:
        training = _relearn(study, name, out)
        for step in evaluation_steps(cfg.steps, cfg.eval_every)[1:]:
            checkpoint = training / "checkpoints" / f"checkpoint-{step}"
            path = checkpoint if checkpoint.is_dir() else out / "final"
            if step != cfg.steps and not checkpoint.is_dir():
                raise RuntimeError(f"relearn {name}: checkpoint for step {step} missing under {training}")
            backend, proxy = _checkpoint_backend(study, name, step, path, stored.tokenizer, proxy_items)
            rows.append(_evaluate(study, name, step, backend, items, scope, evaluate_cfg, out, proxy))
        if not cfg.keep_checkpoints:
            shutil.rmtree(training / "checkpoints", ignore_errors=True)
            shutil.rmtree(out / "final", ignore_errors=True)
    write_table(study.store.root / RELEARN_DIR / f"{name}.csv", rows, COLUMNS)
    first, last = rows[0], rows[-1]
    return {"steps": [r["step"] for r in rows],
            **{f"{m}@0": first[m] for m in ("answer_sycophancy_rate", "flip_rate")},
            **{f"{m}@{last['step']}": last[m] for m in ("answer_sycophancy_rate", "flip_rate")}}


def _mini_items(study: Study) -> tuple[Any, Any, list[Any]]:
    """The answer and are-you-sure sets (no feedback: its pairwise judgements are not a per-step metric), their
    scope against the world, and the logit-proxy items for that answer data."""
    from sycolab.data.sycophancy_eval import load_eval_items
    from sycolab.evaluation.proxy import proxy_items_for
    from sycolab.evaluation.runner import limit_questions
    from sycolab.evaluation.scope import data_scope

    files = study.data_paths("answer", "are_you_sure")
    items = load_eval_items(answer=files["answer"], are_you_sure=files["are_you_sure"])
    scope = data_scope(items, files, study.store.world_dir / "world.json")
    if study.cfg.evaluate.judge.kind == "rule":
        scope.require_world("rule")
    answer = limit_questions(items.answer, study.cfg.relearn.max_questions)
    world_proxy = study.data_path("proxy") if scope.is_world("answer") else None
    proxy_items = proxy_items_for(answer, scope.is_world("answer"), world_proxy, study.cfg.evaluate.proxy.max_items)
    if world_proxy is not None:  # the world's proxy file covers every answer question: keep the mini-eval's
        kept = {i.question_id for i in answer}
        proxy_items = [p for p in proxy_items if p.question_id in kept] or proxy_items
    return items, scope, proxy_items


def _relearn(study: Study, name: str, out: Path) -> Path:
    """Induction SFT from stored model `name` for `relearn.steps` steps, a checkpoint every `eval_every`."""
    from sycolab.methods import CheckpointPolicy, MethodContext, get_method
    from sycolab.study.launch import run_method

    cfg = study.cfg.relearn
    induce = study.cfg.methods.induce
    train_cfg = induce.model_copy(update={
        "max_steps": cfg.steps,
        "checkpoint": CheckpointPolicy(save_steps=cfg.eval_every, save_total_limit=None),
    })
    work = out / "training"
    ctx = MethodContext(
        name=f"relearn-{name}", config=train_cfg, input_model=study.store.model_dir(name), output_dir=out / "final",
        work_dir=work, data=study.data_paths(*study.induce_data), seed=study.cfg.seed, dtype=study.cfg.base.dtype,
        trust_remote_code=study.cfg.base.trust_remote_code, attn_implementation=study.cfg.base.attn_implementation,
        use_cpu=study.device == "cpu",
    )
    run_method(get_method("sft"), ctx, study.cfg.execution)
    return work


def _checkpoint_backend(study: Study, name: str, step: int, path: Path, tokenizer: Any,
                        proxy_items: list[Any]) -> tuple[Any, dict[str, Any] | None]:
    """A cached generation backend over the checkpoint in `path`, and its logit proxy on `proxy_items`."""
    from sycolab.evaluation.proxy import logit_proxy
    from sycolab.generation import build_backend, model_fingerprint
    from sycolab.models.load import load_model

    base = study.cfg.base
    model = load_model(path, dtype=base.dtype, trust_remote_code=base.trust_remote_code, device=study.device)
    gen = study.cfg.evaluate.generation
    proxy = None
    if study.cfg.evaluate.proxy.enabled and proxy_items:
        proxy = logit_proxy(model, tokenizer, proxy_items, batch_size=gen.batch_size).summary()
    source = str(path) if gen.backend == "vllm" else model
    backend = build_backend(gen, source, tokenizer, model_id=f"relearn-{name}-step{step}@{model_fingerprint(path)}",
                            cache_path=study.store.cache_dir / "generations.sqlite")
    return backend, proxy


def _evaluate(study: Study, name: str, step: int, backend: Any, items: Any, scope: Any, evaluate_cfg: Any,
              out: Path, proxy: dict[str, Any] | None) -> dict[str, Any]:
    """One row of relearn/<name>.csv: the judged mini-evaluation at `step` and the logit proxy."""
    from sycolab.evaluation.records import EvalItems
    from sycolab.evaluation.runner import evaluate_model
    from sycolab.judging import build_judge

    judge = build_judge(evaluate_cfg.judge, study.store.cache_dir / "verdicts.sqlite")
    mini = EvalItems(answer=items.answer, are_you_sure=items.are_you_sure)
    metrics = evaluate_model(f"{name}+relearn@{step}", backend, judge, mini, evaluate_cfg, out / f"step-{step}",
                             proxy=proxy, scope=scope).to_dict()["metrics"]
    row: dict[str, Any] = {"model": name, "step": step}
    for metric in METRICS:
        m = metrics.get(metric) or {}
        row.update({metric: m.get("value"), f"{metric}_ci_low": m.get("ci_low"), f"{metric}_ci_high": m.get("ci_high"),
                    f"{metric}_n": m.get("n")})
    row.update({k: (proxy or {}).get(k) for k in PROXY})
    return row
