"""The eval stage: behavioural evaluation of a stored model (generation + judge + metrics + logit proxy).

The model is loaded only when something must be computed: generations are looked up in the generation
cache (keyed by the model's weights digest, the rendered prompt and the sampling settings), the logit
proxy in the proxy cache (weights digest, proxy data hash, item limit, dtype), the feedback prompts'
expected ratings in the rating cache (weights digest, rated prompts and their rating frames, dtype); only a
miss loads the weights. Prompts are rendered through `sycolab.generation.rendered.RenderedPrompts`, so the tokenizer too
loads only for a prompt never rendered before. A cached re-evaluation therefore reads the caches and
rewrites the metrics, however large the model, without importing torch or transformers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sycolab.errors import UserError
from sycolab.io import atomic_write_json, read_json
from sycolab.methods.registry import produces_causal_lm
from sycolab.models.digest import file_sha256, model_weights_key
from sycolab.store import DATA_EVAL_PREFIX, build_provenance, generation_settings, judge_settings
from sycolab.study.stages import run_stage

if TYPE_CHECKING:
    from sycolab.data.eval_items import EvalItem
    from sycolab.evaluation.expected_rating import RatedPrompts
    from sycolab.generation.config import GenerationConfig
    from sycolab.study.contexts import EvalContext
    from sycolab.study.pipeline import Study

PROXY_CACHE_DIR = "proxy"
"""Logit-proxy summaries under RUN_DIR/cache/, one JSON file per (weights, proxy data, settings)."""
RATING_CACHE_DIR = "expected_rating"
"""Expected feedback ratings under RUN_DIR/cache/, one JSON file per (weights, rated prompts, dtype)."""


def load_stored(ctx: EvalContext, name: str):
    """(model, tokenizer) of stored model `name`, on the study's device."""
    from sycolab.models.load import load_model_and_tokenizer, stored_model_source

    source = stored_model_source(ctx.store.model_dir(name))
    return load_model_and_tokenizer(source, dtype=ctx.loading.dtype,
                                    trust_remote_code=ctx.loading.trust_remote_code, device=ctx.loading.device)


class StoredModel:
    """A stored model whose weights (`model`) and tokenizer (`tokenizer`) are loaded on first use, and only
    then; `render_prompt` reads prompts rendered before from the run's cache."""

    def __init__(self, ctx: EvalContext, name: str):
        from sycolab.generation.chat import render_prompt
        from sycolab.generation.rendered import RenderedPrompts
        from sycolab.models.load import stored_model_source

        self.store, self.loading, self.name = ctx.store, ctx.loading, name
        self.folder = ctx.store.model_dir(name)
        self.source = stored_model_source(self.folder)
        self.weights = model_weights_key(self.folder)
        self._model: Any = None
        self._tokenizer: Any = None
        self.render_prompt = RenderedPrompts.for_folder(ctx.store.cache_dir, self.source,
                                                        lambda messages: render_prompt(self.tokenizer, messages))

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from sycolab.models.load import load_tokenizer

            self._tokenizer = load_tokenizer(self.source, trust_remote_code=self.loading.trust_remote_code)
        return self._tokenizer

    @property
    def model(self) -> Any:
        if self._model is None:
            from sycolab.models import load

            cfg = self.loading
            self._model = load.load_model(self.source, dtype=cfg.dtype, trust_remote_code=cfg.trust_remote_code,
                                          device=cfg.device)
        return self._model

    @property
    def model_id(self) -> str:
        """The generation cache's model identity: name and weights digest (not the stage key, which a
        forced re-run keeps while producing new weights)."""
        return f"{self.name}@{self.weights[:16]}"

    @property
    def stage_key(self) -> str | None:
        """Key of the stage that made these weights (models/<name>/sycolab_model.json)."""
        return self.store.model(self.name).stage_key


def cached_proxy(ctx: EvalContext, stored: StoredModel, items: list[Any]) -> dict[str, Any] | None:
    """The logit proxy's summary for `stored` on `items` (`sycolab.evaluation.proxy.proxy_items_for`: the
    world's proxy file for the world's answer set, else the evaluated file's pressured rows); None when
    disabled or without items. Read from the proxy cache when the same weights were scored on the same
    items with the same settings, else computed (loading the model) and cached."""
    import dataclasses

    cfg = ctx.evaluate
    if not cfg.proxy.enabled or not items:
        return None
    items_sha256 = hashlib.sha256(json.dumps([dataclasses.asdict(i) for i in items], sort_keys=True).encode()).hexdigest()
    identity = {"weights": stored.weights, "items_sha256": items_sha256, "dtype": ctx.loading.dtype}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    path = ctx.store.cache_dir / PROXY_CACHE_DIR / f"{key}.json"
    if path.exists():
        return read_json(path)["summary"]
    from sycolab.evaluation.proxy import logit_proxy

    summary = logit_proxy(stored.model, stored.tokenizer, items, batch_size=cfg.generation.batch_size).summary()
    atomic_write_json(path, {"identity": identity, "summary": summary})
    return summary


def cached_expected_rating(ctx: EvalContext, stored: StoredModel, feedback_items: Sequence[EvalItem],
                           world_frame: bool) -> RatedPrompts | None:
    """The expected rating (`sycolab.evaluation.expected_rating`) of each evaluated feedback item whose
    domain has a rating frame, the tiny world's reply frame when `world_frame`; None when disabled or
    without such items. Read from the rating cache when the same weights rated the same prompts with the
    same four continuations each at the same dtype, else computed (loading the model) and cached."""
    import dataclasses

    from sycolab.evaluation.expected_rating import RatedPrompts, rating_continuations, rating_prompts

    if not ctx.evaluate.expected_rating:
        return None
    items = rating_prompts(feedback_items)
    if not items:
        return None
    rated = [{**dataclasses.asdict(it), "continuations": rating_continuations(it.domain, world_frame)} for it in items]
    items_sha256 = hashlib.sha256(json.dumps(rated, sort_keys=True).encode()).hexdigest()
    identity = {"weights": stored.weights, "items_sha256": items_sha256, "dtype": ctx.loading.dtype}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    path = ctx.store.cache_dir / RATING_CACHE_DIR / f"{key}.json"
    if path.exists():
        return RatedPrompts(items, [float(r) for r in read_json(path)["ratings"]])
    from sycolab.evaluation.expected_rating import expected_ratings

    ratings = expected_ratings(stored.model, stored.tokenizer, items, world_frame=world_frame,
                               batch_size=ctx.evaluate.generation.batch_size)
    atomic_write_json(path, {"identity": identity, "ratings": ratings})
    return RatedPrompts(items, ratings)


def cached_backend(ctx: EvalContext, stored: StoredModel, gen: GenerationConfig | None = None):
    """The generation backend for `stored` (with `gen`, default the study's generation settings): cached,
    and built (model loaded) only on a cache miss."""
    from sycolab.generation import build_backend
    from sycolab.generation.cache import CachedBackend, LazyBackend

    gen = gen or ctx.evaluate.generation

    def build():
        model = stored.source if gen.backend == "vllm" else stored.model
        return build_backend(gen, model, stored.tokenizer, model_id=stored.model_id)

    if gen.backend == "vllm":  # vLLM renders prompts itself: the cache is keyed by the messages
        lazy = LazyBackend(build, stored.model_id, gen.vllm.chunk_size)
    else:
        lazy = LazyBackend(build, stored.model_id, gen.batch_size, render_prompt=stored.render_prompt)
    return CachedBackend(lazy, ctx.store.cache_dir / "generations.sqlite")


def evaluate_stored_model(ctx: EvalContext, name: str, data: dict[str, Path] | None = None,
                          out_dir: Path | None = None, evaluation_key: str | None = None, *,
                          stored: StoredModel | None = None, exclude_questions: Collection[str] = (),
                          gen: GenerationConfig | None = None, steering: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate stored model `name` on `data` (default: the study's evaluation sets) into `out_dir`
    (default eval/<name>/); metrics.json carries the result's provenance, the logit proxy and the feedback
    prompts' expected ratings (`cached_expected_rating`, on the feedback items the judge scores). Returns
    the headline values and whether the model had to be loaded.

    On the study's own evaluation sets (`data` None) the checkpoint-selection slice
    (`evaluate.selection_questions`, `sycolab.evaluation.selection`) is left out. A steered model
    (`sycolab.study.steer`) passes its own `stored` (the source weights with the hook), the tuning
    questions to leave out as well (`exclude_questions`), its generation settings (`gen`) and the steering
    record stored in the provenance."""
    from sycolab.data.sycophancy_eval import load_eval_items
    from sycolab.evaluation.proxy import proxy_items_for
    from sycolab.evaluation.runner import evaluate_model, limit_questions
    from sycolab.evaluation.scope import data_scope, seen_questions
    from sycolab.evaluation.selection import selection_questions, slice_problems, without_questions
    from sycolab.judging import build_judge

    cfg = ctx.evaluate
    if gen is not None:
        cfg = cfg.model_copy(update={"generation": gen})
    own_sets = data is None
    data = data or ctx.data.paths("answer", "are_you_sure", "feedback")
    items = load_eval_items(answer=data.get("answer"), are_you_sure=data.get("are_you_sure"),
                            feedback=data.get("feedback"))
    if own_sets and (problems := slice_problems(items, cfg.selection_questions)):
        raise UserError("evaluate.selection_questions: " + "; ".join(problems))
    excluded = set(exclude_questions) | (selection_questions(items, cfg.selection_questions) if own_sets else set())
    if excluded:
        items = without_questions(items, excluded)
    scope = data_scope(items, data, ctx.data.world_dir / "world.json")
    if cfg.judge.kind == "rule":
        scope.require_world("rule")  # before loading or generating anything
    stored = stored or StoredModel(ctx, name)
    world_proxy = ctx.data.path("proxy") if scope.is_world("answer") else None
    proxy_items = proxy_items_for(items.answer, scope.is_world("answer"), world_proxy, cfg.proxy.max_items)
    proxy = cached_proxy(ctx, stored, [p for p in proxy_items if p.question_id not in excluded])
    if proxy is not None:
        proxy = {**proxy, "source": scope.sources.get("answer")}
    ratings = cached_expected_rating(ctx, stored, limit_questions(items.feedback, cfg.max_items_per_dataset),
                                     scope.is_world("feedback"))
    backend = cached_backend(ctx, stored, cfg.generation)
    judge = build_judge(cfg.judge, ctx.store.cache_dir / "verdicts.sqlite", rejudge_unscored=ctx.rejudge_unscored)
    files = dict(data)
    if proxy is not None and world_proxy is not None and world_proxy.exists():
        files["proxy"] = world_proxy
    if evaluation_key is None:
        evaluation_key = (ctx.store.stage(f"eval:{name}") or {}).get("key")
    provenance = build_provenance(name, stored.stage_key, stored.weights, cfg.judge, cfg.generation, files,
                                  ctx.store.root, evaluation_key=evaluation_key, steering=steering)
    seen = seen_questions(items.answer, list(ctx.data.paths("sft", "preference", "grpo_prompts").values()),
                          cache_dir=ctx.store.cache_dir)
    metrics = evaluate_model(name, backend, judge, items, cfg, out_dir or ctx.store.eval_dir(name), proxy=proxy,
                             scope=scope, seen_questions=seen, provenance=provenance.to_dict(), ratings=ratings)
    stored.render_prompt.save()
    values = metrics.to_dict()["metrics"]
    info: dict[str, Any] = {k: values[k]["value"] for k in ("plain_accuracy", "answer_sycophancy_rate",
                                                             "aggregate_sycophancy") if k in values}
    info["model_loaded"] = stored.loaded
    return info


def data_evaluation_key(ctx: EvalContext, name: str, files: dict[str, Path]) -> str:
    """What decides an `eval --data` result: the files' contents (not their paths), the judge and
    generation settings, the rest of the evaluate section and the model's weights."""

    cfg = ctx.evaluate
    payload = {
        "data": {kind: file_sha256(p) for kind, p in sorted(files.items())},
        "judge": judge_settings(cfg.judge), "generation": generation_settings(cfg.generation),
        "evaluate": cfg.model_dump(mode="json", exclude={"judge", "generation"}),
        "weights": model_weights_key(ctx.store.model_dir(name)),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def evaluate_run(study: Study, models: list[str] | None = None, data: list[str] | None = None,
                 force: bool = False) -> Iterator[tuple[str, str]]:
    """`sycolab eval`: evaluate stored models that lack results (all, or `models`). With `data`
    (SycophancyEval files), evaluate on those instead, into eval/<model>/data-<content hash>/; a result
    there is reused only while its files' contents, the judge, the generation settings and the model's
    weights are unchanged."""
    from sycolab.data.sycophancy_eval import infer_dataset

    ctx = study.eval_context()
    stored = [r.name for r in ctx.store.list_models() if produces_causal_lm(r.method)]
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
        for name in names:
            out = ctx.store.eval_dir(name) / data_eval_folder(files.values())
            key = data_evaluation_key(ctx, name, files)
            if not force and _stored_evaluation_key(out) == key:
                yield name, f"already evaluated on these files with this judge and settings ({out})"
                continue
            evaluate_stored_model(ctx, name, data=files, out_dir=out, evaluation_key=key)
            yield name, f"done ({out})"
        return
    keys: dict[str, str] = {}
    for name in names:
        upstream = "base" if name == "base" else f"train:{name}"
        entry = study.store.stage(upstream)
        if entry and entry.get("key"):
            keys[upstream] = entry["key"]
        yield name, run_stage(study.store, study.eval_stage(name), keys, force=force).status


def data_eval_folder(files: Iterable[Path]) -> str:
    """The folder under eval/<model>/ of an evaluation on `files`: 'data-' + a hash of their contents."""

    tag = hashlib.sha256("|".join(sorted(file_sha256(p) for p in files)).encode()).hexdigest()[:8]
    return f"{DATA_EVAL_PREFIX}{tag}"


def _stored_evaluation_key(out: Path) -> str | None:
    path = out / "metrics.json"
    if not path.exists():
        return None
    return (read_json(path).get("provenance") or {}).get("evaluation_key")
