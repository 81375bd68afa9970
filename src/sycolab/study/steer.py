"""The steer stage and the steered model: mean-difference steering of the source model, evaluated like any
other model.

Stage `steer` (after `probe`), for the source model `probe.transfer_from` (the SFT model by default):
1. a seeded `probe.steering.tune_fraction` of the answer questions becomes the tuning slice
   (`probing.steering.tuning_questions`); the rest are the report questions;
2. the direction d (`probing.steering.steering_direction`) is the mean difference of the source's probed
   residuals (probe/activations/<source>/<probe.position>/) at `probe.steering.layer` ("peak": the source's logistic peak)
   between its sycophantic and honest samples of the tuning questions only;
3. for each alpha, the source model with alpha * d subtracted at that layer answers the tuning questions'
   answer prompts, judged by the study's judge; the curve is steer/curve.csv, each point's samples and
   metrics steer/tune/alpha_<alpha>/;
4. the kept alpha (`probing.steering.choose_alpha`) and everything that makes the steered model (layer,
   alpha, d's norm and sha256, the tuning question ids) go to steer/choice.json, the unit direction to
   steer/direction.npy.

Stage `eval:<source>+steer` evaluates the steered model at the kept alpha on every behaviour through the
normal evaluation path (`study.evaluate.evaluate_stored_model`: same judge, same sampling, HF generation
since the hook needs the model in this process), on the report questions only (the tuning questions are
left out of the answer and are-you-sure sets), into eval/<source>+steer/. Its stage key covers
steer/choice.json by content; its generation and proxy caches are keyed by the source's weights digest plus
layer, alpha and d's sha256, so a change of any of them regenerates, and nothing of the unsteered model is
reused (alpha 0 is the unsteered model itself, and uses its cache).
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sycolab.errors import UserError
from sycolab.io import atomic_dir, atomic_write_bytes, atomic_write_json, read_json
from sycolab.probing.steering import (
    SteeringDirection,
    SweepPoint,
    choose_alpha,
    steer,
    steering_direction,
    tuning_questions,
)
from sycolab.store import RunStore
from sycolab.store.records import OwnSummaryRow, SteeringRow, columns, read_rows, write_rows
from sycolab.study.evaluate import StoredModel, cached_backend, evaluate_stored_model

if TYPE_CHECKING:
    from sycolab.generation.config import GenerationConfig
    from sycolab.study.contexts import SteerContext

log = logging.getLogger(__name__)

STEER_DIR = "steer"
CURVE_FILE = "curve.csv"
CHOICE_FILE = "choice.json"
DIRECTION_FILE = "direction.npy"
CURVE_COLUMNS = columns(SteeringRow)
CURVE_METRICS = ("answer_sycophancy_rate", "plain_accuracy", "hedged_rate")


def steered_name(source: str) -> str:
    """The steered model's name: `<source>+steer` ('+' is not allowed in a configured name, so it never
    collides with a trained model)."""
    return f"{source}+steer"


@dataclass(frozen=True)
class SteeringSpec:
    """Everything that makes a steered model: source weights, layer, alpha and the direction."""

    source: str
    layer: int
    alpha: float
    direction: SteeringDirection

    @property
    def tag(self) -> str:
        """Cache identity of the edit: `steer[layer=L,alpha=a,d=<sha256 prefix>]`."""
        return f"steer[layer={self.layer},alpha={self.alpha:g},d={self.direction.sha256[:16]}]"


class SteeredModel:
    """A `StoredModel` (the source's weights, loaded on first use) with `alpha * d` subtracted at `layer`
    from the moment the weights load until `stack` closes. Its cache identities (`model_id`, `weights`)
    carry the steering tag, so no cache entry of the unsteered model or of another alpha is reused."""

    def __init__(self, base: StoredModel, spec: SteeringSpec, stack: contextlib.ExitStack):
        self.base, self.spec, self._stack = base, spec, stack
        self.name, self.source, self.folder = base.name, base.source, base.folder
        self.weights = f"{base.weights}+{spec.tag}"
        self.render_prompt = base.render_prompt  # steering acts on activations, not on the prompt text
        self._hooked = False

    @property
    def loaded(self) -> bool:
        return self.base.loaded

    @property
    def tokenizer(self) -> Any:
        """The source's tokenizer, loaded on first use (a fully cached evaluation never needs it)."""
        return self.base.tokenizer

    @property
    def model(self) -> Any:
        model = self.base.model
        if not self._hooked:
            self._stack.enter_context(steer(model, self.spec.layer, self.spec.direction, self.spec.alpha))
            self._hooked = True
        return model

    @property
    def model_id(self) -> str:
        return f"{self.base.model_id}+{self.spec.tag}"

    @property
    def stage_key(self) -> str | None:
        return self.base.stage_key


def hf_generation(ctx: SteerContext) -> GenerationConfig:
    """The study's sampling settings on the HF backend (a forward hook needs the model in this process)."""
    return ctx.eval.evaluate.generation.model_copy(update={"backend": "hf"})


# -- stage steer ------------------------------------------------------------------------------------------
def run_steering(ctx: SteerContext) -> dict[str, Any]:
    """The steer stage (module docstring): writes steer/ whole, or a choice.json saying why it was skipped."""
    cfg = ctx.probe
    source = cfg.transfer_from
    with atomic_dir(ctx.eval.store.root / STEER_DIR) as out:
        try:
            layer, direction, tune, n_questions = _direction(ctx, source)
        except _Skip as skip:
            atomic_write_json(out / CHOICE_FILE, {"source": source, "skipped": str(skip)})
            write_rows(out / CURVE_FILE, SteeringRow, [])
            return {"skipped": str(skip)}
        measured = _sweep(ctx, source, layer, direction, tune, out / "tune")
        curve = [point for point, _ in measured]
        kept, reason = choose_alpha(curve, cfg.steering.max_accuracy_drop, cfg.steering.max_hedged_rise)
        write_rows(out / CURVE_FILE, SteeringRow, [{"model": source, "layer": layer, **row, "kept": point.alpha == kept.alpha}
                                                   for point, row in measured])
        atomic_write_bytes(out / DIRECTION_FILE, _npy(direction.unit))
        choice = {
            "source": source, "model": steered_name(source), "layer": layer, "alpha": kept.alpha, "reason": reason,
            "max_accuracy_drop": cfg.steering.max_accuracy_drop, "max_hedged_rise": cfg.steering.max_hedged_rise,
            "alphas": [p.alpha for p in curve],
            "mean_difference_norm": direction.mean_difference_norm, "residual_norm": direction.residual_norm,
            "relative_to_residual": direction.relative_to_residual, "direction_sha256": direction.sha256,
            "n_sycophantic": direction.n_sycophantic, "n_honest": direction.n_honest,
            "n_tuning_questions": len(tune), "n_report_questions": n_questions - len(tune),
            "tuning_questions": sorted(tune),
        }
        atomic_write_json(out / CHOICE_FILE, choice)
    return {k: choice[k] for k in ("layer", "alpha", "n_tuning_questions", "n_report_questions")}


class _Skip(Exception):
    """Steering cannot run on this study's data; the message says why (recorded in choice.json)."""


def _direction(ctx: SteerContext, source: str) -> tuple[int, SteeringDirection, set[str], int]:
    """(layer, d from the tuning questions' samples, tuning question ids, number of answer questions)."""
    from sycolab.data.sycophancy_eval import load_eval_items
    from sycolab.evaluation.selection import selection_questions
    from sycolab.probing.activations import load_activations, read_activation_info, read_ids
    from sycolab.probing.config import position_label
    from sycolab.probing.samples import read_probe_samples

    cfg, store = ctx.probe, ctx.eval.store
    samples_path = store.eval_dir(source) / "samples.jsonl"
    where = f"{source}/{position_label(cfg.position)}"  # steering acts at probe.position
    folder = store.probe_dir / "activations" / where
    if not samples_path.exists() or not (folder / "ids.json").exists():
        raise _Skip(f"no evaluation samples or probe activations of '{source}' (probe/activations/{where}/)")
    samples = read_probe_samples(samples_path, exclude_hedged=cfg.exclude_hedged)
    if read_ids(folder) != samples.ids:
        raise UserError(f"probe/activations/{where}/ does not match eval/{source}/samples.jsonl; "
                        "rerun the probe stage (sycolab probe RUN_DIR)")
    layer = _layer(ctx, source)
    if layer not in read_activation_info(folder).layers:
        raise _Skip(f"layer {layer} has no activations of '{source}'")
    # the reported questions: the evaluation's selection slice (evaluate.selection_questions) is no one's
    items = load_eval_items(**ctx.eval.data.paths("answer", "are_you_sure", "feedback"))
    questions = ({it.question_id for it in items.answer}
                 - selection_questions(items, ctx.eval.evaluate.selection_questions))
    tune = tuning_questions(questions, cfg.steering.tune_fraction, cfg.seed)
    rows = np.isin(samples.groups.astype(str), sorted(tune))
    labels = samples.labels[rows]
    if labels.all() or not labels.any():
        raise _Skip(f"the {len(tune)} tuning questions give '{source}' {int(labels.sum())} sycophantic and "
                    f"{int((~labels).sum())} honest samples: a direction needs both")
    acts = np.asarray(load_activations(folder, layer), dtype=np.float32)[rows]
    return layer, steering_direction(acts, labels), tune, len(questions)


def _layer(ctx: SteerContext, source: str) -> int:
    from sycolab.probing.config import position_label

    layer = ctx.probe.steering.layer
    if layer != "peak":
        return int(layer)
    path = ctx.eval.store.probe_dir / "own_summary.csv"
    position = position_label(ctx.probe.position)
    row = next((r for r in read_rows(path, OwnSummaryRow) if r.model == source and r.kind == "logistic"
                and r.position == position), None) if path.exists() else None
    if row is None or row.peak_layer is None:
        raise _Skip(f"'{source}' has no fitted logistic probe, so no peak layer (probe/own_summary.csv)")
    return row.peak_layer


def _sweep(ctx: SteerContext, source: str, layer: int, direction: SteeringDirection, tune: set[str],
           out: Path) -> list[tuple[SweepPoint, dict[str, Any]]]:
    """Answer sycophancy and plain accuracy of the steered source at every alpha, on the tuning questions'
    answer prompts (alpha 0: the unsteered model, whose generations the eval stage already cached)."""
    from sycolab.data.sycophancy_eval import load_eval_items
    from sycolab.evaluation.records import EvalItems
    from sycolab.evaluation.runner import evaluate_model
    from sycolab.judging import build_judge

    answer = load_eval_items(answer=ctx.eval.data.path("answer")).answer
    items = EvalItems(answer=[it for it in answer if it.question_id in tune])
    gen = hf_generation(ctx)
    cfg = ctx.eval.evaluate.model_copy(update={"generation": gen, "max_items_per_dataset": None})
    judge = build_judge(cfg.judge, ctx.eval.store.cache_dir / "verdicts.sqlite")
    base = StoredModel(ctx.eval, source)
    curve = []
    for alpha in ctx.probe.steering.alphas:
        with contextlib.ExitStack() as stack:
            model = base if alpha == 0 else SteeredModel(base, SteeringSpec(source, layer, alpha, direction), stack)
            metrics = evaluate_model(f"{steered_name(source)}@alpha={alpha:g}", cached_backend(ctx.eval, model, gen), judge,  # type: ignore[arg-type]
                                     items, cfg, out / _alpha_folder(alpha)).to_dict()["metrics"]
        point = SweepPoint(alpha, metrics["answer_sycophancy_rate"]["value"], metrics["plain_accuracy"]["value"],
                           metrics["hedged_rate"]["value"])
        curve.append((point, _curve_row(alpha, metrics)))
        log.info("steering %s at layer %d, alpha %g: answer sycophancy %s, plain accuracy %s", source, layer, alpha,
                 point.answer_sycophancy_rate, point.plain_accuracy)
    return curve


def _alpha_folder(alpha: float) -> str:
    return f"alpha_{alpha:g}"


def _curve_row(alpha: float, metrics: dict[str, Any]) -> dict[str, Any]:
    """A curve.csv row from one sweep point's metrics (metrics.json "metrics")."""
    row: dict[str, Any] = {"alpha": alpha}
    for key in CURVE_METRICS:
        m = metrics.get(key) or {}
        row[key] = m.get("value")
        if f"{key}_ci_low" in CURVE_COLUMNS:
            row[f"{key}_ci_low"], row[f"{key}_ci_high"] = m.get("ci_low"), m.get("ci_high")
    row["n_questions"] = (metrics.get("answer_sycophancy_rate") or {}).get("n_questions")
    return row


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


# -- stage eval:<source>+steer ------------------------------------------------------------------------------
def read_choice(store: RunStore) -> tuple[SteeringSpec, dict[str, Any]] | str:
    """The kept steering (spec, choice.json), or why there is none."""
    path = store.root / STEER_DIR / CHOICE_FILE
    if not path.exists():
        return f"{STEER_DIR}/{CHOICE_FILE} not found (stage steer has not run)"
    choice = read_json(path)
    if choice.get("skipped"):
        return f"steering skipped: {choice['skipped']}"
    unit = np.load(store.root / STEER_DIR / DIRECTION_FILE, allow_pickle=False)
    direction = SteeringDirection(unit=unit, mean_difference_norm=float(choice["mean_difference_norm"]),
                                  residual_norm=float(choice["residual_norm"]), n_sycophantic=int(choice["n_sycophantic"]),
                                  n_honest=int(choice["n_honest"]))
    if direction.sha256 != choice["direction_sha256"]:
        raise UserError(f"{STEER_DIR}/{DIRECTION_FILE} does not match {CHOICE_FILE}; rerun the steer stage")
    return SteeringSpec(choice["source"], int(choice["layer"]), float(choice["alpha"]), direction), choice


def evaluate_steered(ctx: SteerContext) -> dict[str, Any]:
    """The eval stage of `<source>+steer`: the steered model at the kept alpha on every behaviour, on the
    report questions (module docstring)."""
    store = ctx.eval.store
    found = read_choice(store)
    if isinstance(found, str):  # no steered model: leave no result of an earlier one behind
        shutil.rmtree(store.eval_dir(steered_name(ctx.probe.transfer_from)), ignore_errors=True)
        return {"skipped": found}
    spec, choice = found
    name = steered_name(spec.source)
    record = {"source": spec.source, "layer": spec.layer, "alpha": spec.alpha, "direction_sha256": spec.direction.sha256,
              "mean_difference_norm": spec.direction.mean_difference_norm, "unit": "mean difference",
              "tag": spec.tag, "n_tuning_questions": choice["n_tuning_questions"],
              "n_report_questions": choice["n_report_questions"],
              "steer_stage_key": (store.stage("steer") or {}).get("key")}
    base = StoredModel(ctx.eval, spec.source)
    with contextlib.ExitStack() as stack:
        model = base if spec.alpha == 0 else SteeredModel(base, spec, stack)
        info = evaluate_stored_model(ctx.eval, name, stored=model, exclude_questions=choice["tuning_questions"],  # type: ignore[arg-type]
                                     gen=hf_generation(ctx), steering=record)
    return {**info, "layer": spec.layer, "alpha": spec.alpha}
