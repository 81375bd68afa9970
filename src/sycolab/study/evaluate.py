"""The eval stage: behavioural evaluation of a stored model (generation + judge + metrics + logit proxy)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sycolab.study.pipeline import Study


def load_stored(study: Study, name: str):
    """(model, tokenizer) of stored model `name`, on the study's device."""
    from sycolab.models.load import load_model_and_tokenizer, stored_model_source

    source = stored_model_source(study.store.model_dir(name))
    return load_model_and_tokenizer(source, dtype=study.cfg.base.dtype,
                                    trust_remote_code=study.cfg.base.trust_remote_code, device=study.device)


def model_version(study: Study, name: str) -> str:
    """Identifies the weights of `name` for the generation cache: the key of the stage that made them."""
    entry = study.store.stage("base" if name == "base" else f"train:{name}") or {}
    return f"{name}@{entry.get('key', 'unknown')}"


def evaluate_stored_model(study: Study, name: str, data: dict[str, Path] | None = None,
                          out_dir: Path | None = None) -> dict[str, Any]:
    from sycolab.data.sycophancy_eval import load_eval_items
    from sycolab.evaluation.proxy import logit_proxy, proxy_items_for
    from sycolab.evaluation.runner import evaluate_model
    from sycolab.evaluation.scope import data_scope, seen_questions
    from sycolab.generation import build_backend
    from sycolab.judging import build_judge

    cfg = study.cfg.evaluate
    data = data or study.data_paths("answer", "are_you_sure", "feedback")
    items = load_eval_items(answer=data.get("answer"), are_you_sure=data.get("are_you_sure"),
                            feedback=data.get("feedback"))
    scope = data_scope(items, data, study.store.world_dir / "world.json")
    if cfg.judge.kind == "rule":
        scope.require_world("rule")  # before loading or generating anything
    model, tokenizer = load_stored(study, name)
    proxy = None
    proxy_items = proxy_items_for(items.answer, scope.is_world("answer"), study.data_path("proxy"), cfg.proxy.max_items)
    if cfg.proxy.enabled and proxy_items:
        summary = logit_proxy(model, tokenizer, proxy_items, batch_size=cfg.generation.batch_size).summary()
        proxy = {**summary, "source": scope.sources.get("answer")}
    backend_model: Any = model
    if cfg.generation.backend == "vllm":
        from sycolab.models.load import stored_model_source

        backend_model = stored_model_source(study.store.model_dir(name))
    backend = build_backend(cfg.generation, backend_model, tokenizer, model_id=model_version(study, name),
                            cache_path=study.store.cache_dir / "generations.sqlite")
    judge = build_judge(cfg.judge, study.store.cache_dir / "verdicts.sqlite", rejudge_unscored=study.rejudge_unscored)
    seen = seen_questions(items.answer, list(study.data_paths("sft", "preference", "grpo_prompts").values()))
    metrics = evaluate_model(name, backend, judge, items, cfg, out_dir or study.store.eval_dir(name), proxy=proxy,
                             scope=scope, seen_questions=seen)
    values = metrics.to_dict()["metrics"]
    return {k: values[k]["value"] for k in ("plain_accuracy", "answer_sycophancy_rate", "aggregate_sycophancy") if k in values}


def evaluate_run(study: Study, models: list[str] | None = None, data: list[str] | None = None,
                 force: bool = False) -> Iterator[tuple[str, str]]:
    """`sycolab eval`: evaluate stored models that lack results (all, or `models`). With `data`
    (SycophancyEval files), evaluate on those instead, into eval/<model>/data-<hash>/."""
    from sycolab.data.sycophancy_eval import infer_dataset
    from sycolab.errors import UserError
    from sycolab.study.stages import Stage, run_stage

    stored = [r.name for r in study.store.list_models()]
    names = models or stored
    unknown = [n for n in names if n not in stored]
    if unknown:
        raise UserError(f"--model: no stored model named {unknown}; stored: {', '.join(stored) or 'none'}")
    if data:
        files: dict[str, Path] = {}
        for path in data:
            if not Path(path).exists():
                raise UserError(f"--data: file '{path}' not found")
            files[infer_dataset(path)] = Path(path)
        tag = hashlib.sha256("|".join(sorted(str(Path(p).resolve()) for p in data)).encode()).hexdigest()[:8]
        for name in names:
            out = study.store.eval_dir(name) / f"data-{tag}"
            if (out / "metrics.json").exists() and not force:
                yield name, f"already evaluated on these files ({out})"
                continue
            evaluate_stored_model(study, name, data=files, out_dir=out)
            yield name, f"done ({out})"
        return
    keys: dict[str, str] = {}
    slice_ = study.cfg.evaluate.model_dump(mode="json")
    for name in names:
        upstream = "base" if name == "base" else f"train:{name}"
        entry = study.store.stage(upstream)
        if entry and entry.get("key"):
            keys[upstream] = entry["key"]
        stage = Stage(f"eval:{name}", slice_, [upstream], lambda n=name: evaluate_stored_model(study, n))
        yield name, run_stage(study.store, stage, keys, force=force).status
