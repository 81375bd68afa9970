"""The probe stage: probes, transfer, geometry, ablation, patching and steering for every evaluated model."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sycolab.config.checks import local_layer_count, probe_layer_problems
from sycolab.io import atomic_write_json, read_json
from sycolab.models.digest import model_weights_key
from sycolab.store import build_provenance
from sycolab.study.evaluate import load_stored

if TYPE_CHECKING:
    from sycolab.store import Provenance
    from sycolab.study.contexts import ProbeContext


def probe_study(ctx: ProbeContext) -> dict[str, Any]:
    from sycolab.probing.runner import run_probing

    store = ctx.eval.store
    names = [n for n in ctx.models if (store.eval_dir(n) / "samples.jsonl").exists()]
    check_probe_layers(ctx)
    run_probing(
        store.root, ctx.probe, names, lambda name: load_stored(ctx.eval, name),
        measure_sycophancy=lambda model: measure_answer_behaviour(ctx, model),
        proxy_path=ctx.eval.data.path("proxy"),
        answer_prefix=answer_prefix(ctx),
    )
    summary = store.probe_dir / "summary.json"
    if not summary.exists():
        return {"models": names, "seconds": None}
    content = read_json(summary)
    content["provenance"] = probe_provenance(ctx, names).to_dict()
    atomic_write_json(summary, content)
    return {"models": names, "seconds": content.get("seconds", {}).get("total")}


def answer_prefix(ctx: ProbeContext) -> str:
    """The assistant prefix of the answer position: `probe.answer_prefix`, else the evaluated answer data's
    own: the tiny world's "the answer is" on world data, else the logit proxy's frame "The answer is"."""
    from sycolab.data.prompts import ANSWER_PREFIX
    from sycolab.data.sycophancy_eval import load_eval_items
    from sycolab.evaluation.proxy import ANSWER_FRAME
    from sycolab.evaluation.scope import data_scope

    if ctx.probe.answer_prefix:
        return ctx.probe.answer_prefix
    data = ctx.eval.data.paths("answer")
    scope = data_scope(load_eval_items(answer=data.get("answer")), data, ctx.eval.data.world_dir / "world.json")
    return ANSWER_PREFIX if scope.is_world("answer") else ANSWER_FRAME.split("{answer}")[0].rstrip()


def probe_provenance(ctx: ProbeContext, names: list[str]) -> Provenance:
    """Provenance of the probing tables: the judge and generation settings behind the labels and the
    intervention measure, the answer and proxy files, and each probed model's weights digest."""

    cfg, store = ctx.eval.evaluate, ctx.eval.store
    return build_provenance(None, None, None, cfg.judge, cfg.generation, ctx.eval.data.paths("answer", "proxy"),
                            store.root, evaluation_key=(store.stage("probe") or {}).get("key"),
                            models={n: model_weights_key(store.model_dir(n)) for n in names})


def check_probe_layers(ctx: ProbeContext) -> None:
    """probe.layers against the stored base model's layer count, before any probing work (the config
    check could not see a hub model's config.json before the base stage fetched it)."""
    from sycolab.models.load import stored_model_source

    folder = ctx.eval.store.model_dir("base")
    n_layers = local_layer_count(stored_model_source(folder)) if folder.exists() else None
    if n_layers is not None:
        problems = probe_layer_problems(ctx.probe, n_layers, "num_hidden_layers of the base model")
        if problems:
            raise ctx.config_error(problems)


def measure_answer_behaviour(ctx: ProbeContext, model: Any) -> dict[str, float]:
    """answer_sycophancy_rate and plain_accuracy of `model` as it is now (hooks attached), on the answer
    questions the evaluation scores (the selection slice, `evaluate.selection_questions`, left out as
    `sycolab eval` leaves it out, so the unhooked baseline is the source's own evaluated rate).
    Generations are not cached (the hooks change the model); verdicts are."""
    from sycolab.data.sycophancy_eval import load_eval_items
    from sycolab.evaluation.runner import evaluate_model
    from sycolab.evaluation.selection import selection_questions, without_questions
    from sycolab.generation import build_backend
    from sycolab.judging import build_judge
    from sycolab.models.load import load_tokenizer, stored_model_source

    cfg, store = ctx.eval.evaluate, ctx.eval.store
    tokenizer = load_tokenizer(stored_model_source(store.model_dir(ctx.probe.transfer_from)),
                               trust_remote_code=ctx.eval.loading.trust_remote_code)
    items = load_eval_items(answer=ctx.eval.data.path("answer"))
    items = without_questions(items, selection_questions(items, cfg.selection_questions))
    generation = cfg.generation.model_copy(update={"backend": "hf"})
    backend = build_backend(generation, model, tokenizer, model_id="intervention")
    judge = build_judge(cfg.judge, store.cache_dir / "verdicts.sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        metrics = evaluate_model("intervention", backend, judge, items, cfg.model_copy(update={"generation": generation}),
                                 Path(tmp)).to_dict()["metrics"]
    return {k: metrics[k]["value"] for k in ("answer_sycophancy_rate", "plain_accuracy")}
