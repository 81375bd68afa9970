"""The probing stage: from eval samples and stored models to the `probe/` tables of the run store.

Steps, each skipped with a recorded reason when its inputs are missing:
1. per model: labels from `eval/<model>/samples.jsonl`; activations of the labelled pressured prompts at
   every configured layer and position (`probe/activations/<model>/<position>/`: `cfg.position`, and
   "answer", the prompt with the assistant prefix "the answer is" appended, whose last token predicts the
   answer word); activation patching on logit-proxy items at the last prompt token and the answer position;
2. per position: probes with intervals and permutation nulls, shortcut baselines, per-template probes,
   ablation, cross-fitted transfer from `cfg.transfer_from`, direction cosines (`analysis.analyse`, from
   the stored activations alone); every row carries its `position`;
3. with a `measure_sycophancy` callable: direction interventions on the source model, at `cfg.position`.
Steering (the alpha sweep and the steered model) is its own stage after this one (`sycolab.study.steer`).
Each table is written as its record type (`sycolab.store.records.PROBE_TABLES`, docs/architecture.md
"Probing tables"), plus `probe/summary.json`.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sycolab.data.prompts import ANSWER_PREFIX
from sycolab.io import atomic_write_json
from sycolab.probing.activations import ActivationInfo, extract_positions, load_activations, resolve_layers
from sycolab.probing.analysis import ModelActivations, ProbingResults, analyse
from sycolab.probing.config import ANSWER, ProbeConfig, position_label
from sycolab.probing.hooks import hook_name
from sycolab.probing.intervention import InterventionResult, intervention_effect
from sycolab.probing.patching import PatchRow, activation_patching
from sycolab.probing.probes import class_counts, probe_direction, too_few_reason
from sycolab.probing.samples import ProbeSamples, patch_prompts, read_neutral_prompts, read_probe_samples
from sycolab.store.records import PROBE_TABLES, OwnAurocRow, columns, write_rows

log = logging.getLogger(__name__)

LoadModel = Callable[[str], tuple[Any, Any]]
Measure = Callable[[Any], "float | Mapping[str, float]"]


def run_probing(
    store_root: Path,
    cfg: ProbeConfig,
    models: list[str],
    load_model: LoadModel,
    measure_sycophancy: Measure | None = None,
    *,
    proxy_path: Path | None = None,
    answer_prefix: str | None = None,
) -> None:
    """Run the probing stage for `models` and write `store_root/probe/`.

    `load_model(name)` returns (model, tokenizer) of a stored model. `measure_sycophancy(model)` returns
    the model's answer_sycophancy_rate, or a mapping with "answer_sycophancy_rate" (and optionally
    "plain_accuracy"); it runs with intervention hooks attached. `proxy_path` holds the
    logit-proxy items used for patching (default `store_root/world/heldout/proxy.jsonl`). `answer_prefix`
    is the assistant prefix of the answer position (`cfg.answer_prefix` first; default the tiny world's
    "the answer is").
    """
    store_root = Path(store_root)
    out = store_root / "probe"
    summary: dict[str, Any] = {"config": cfg.model_dump(), "models": {}, "notes": []}
    tables: dict[str, list[dict]] = {name: [] for name in PROBE_TABLES}
    if not cfg.enabled:
        summary["notes"].append("probing disabled (probe.enabled = false)")
        _write(out, tables, summary)
        return
    started = time.perf_counter()
    proxy_path = Path(proxy_path) if proxy_path else store_root / "world" / "heldout" / "proxy.jsonl"
    prefix = cfg.answer_prefix or answer_prefix or ANSWER_PREFIX
    positions = [position_label(p) for p in cfg.positions()]
    summary["positions"] = {p: _POSITION_WORDS.get(p, f"token {p} of the prompt") for p in positions}
    summary["answer_prefix"] = prefix if cfg.answer_position else None
    fitted: dict[str, dict[str, ModelActivations]] = {p: {} for p in positions}
    for name in models:
        data = _prepare_model(
            store_root, name, cfg, prefix, load_model, proxy_path, tables, summary["models"].setdefault(name, {})
        )
        for position, acts in data.items():
            fitted[position][name] = acts

    by_position: dict[str, ProbingResults] = {}
    seconds: dict[str, float] = {}
    for position in positions:
        results = by_position[position] = (
            analyse(fitted[position], cfg)
            if fitted[position]
            else ProbingResults(notes=["no model has enough labelled samples for probes"])
        )
        summary["notes"] += [f"{position}: {note}" for note in results.notes]
        _result_tables(position, results, tables, summary, baselines=position == positions[0])
        seconds.update({f"{position}.{k}": v for k, v in results.seconds.items()})

    primary, primary_data = by_position[positions[0]], fitted[positions[0]]
    if measure_sycophancy is not None and cfg.transfer_from in primary_data:
        _causal(cfg, load_model, measure_sycophancy, primary_data[cfg.transfer_from], primary, tables, summary)
    elif measure_sycophancy is None:
        summary["notes"].append("interventions skipped: no measure_sycophancy callable given")
    else:
        summary["notes"].append(
            f"interventions skipped: source model '{cfg.transfer_from}' has no fitted probe"
        )
    summary["seconds"] = {**seconds, "total": time.perf_counter() - started}
    _write(out, tables, summary)


_POSITION_WORDS = {
    "last": "last prompt token (the assistant turn opened)",
    "mean": "mean over the prompt's tokens",
    ANSWER: "answer position: last token of the assistant prefix appended to the prompt, predicting the answer word",
}


def _prepare_model(
    store_root: Path,
    name: str,
    cfg: ProbeConfig,
    answer_prefix: str,
    load_model: LoadModel,
    proxy_path: Path,
    tables: dict[str, list[dict]],
    info: dict[str, Any],
) -> dict[str, ModelActivations]:
    """Labels, activations and patching of one model; its probe inputs per position (empty when it cannot
    be probed)."""
    samples_path = store_root / "eval" / name / "samples.jsonl"
    if not samples_path.exists():
        reason: str | None = f"no evaluation samples at {samples_path.relative_to(store_root)}"
        tables["labels"].append(
            {"model": name, "n": 0, "n_sycophantic": 0, "n_honest": 0, "fitted": False, "reason": reason}
        )
        info["reason"] = reason
        return {}
    samples = read_probe_samples(samples_path, exclude_hedged=cfg.exclude_hedged)
    counts = class_counts(samples.labels)
    reason = too_few_reason(counts, samples.groups, cfg.min_per_class)
    excluded = {"n_hedged_excluded": samples.n_hedged, "n_refused_excluded": samples.n_refused}
    tables["labels"].append(
        {
            "model": name,
            **vars(counts),
            **excluded,
            "fitted": reason is None,
            "reason": reason or "",
            "n_unscored": samples.n_unscored,
        }
    )
    info.update(vars(counts), **excluded, n_unscored=samples.n_unscored, fitted=reason is None, reason=reason)
    patching_ready = _patching_ready(cfg, proxy_path, info)
    if reason is not None and not patching_ready:
        return {}
    data: dict[str, ModelActivations] = {}
    model, tokenizer = load_model(name)
    model.eval()
    try:
        if reason is None:
            folders = {p: store_root / "probe" / "activations" / name / position_label(p) for p in cfg.positions()}
            infos = extract_positions(model, tokenizer, samples.prompts, samples.ids, folders, layers=cfg.layers,
                                      batch_size=cfg.batch_size, answer_prefix=answer_prefix)
            info["activations"] = {position_label(p): act.to_dict() for p, act in infos.items()}
            data = {position_label(p): _loader(name, samples, act) for p, act in infos.items()}
        if patching_ready:
            tables["patching"] += _patching(name, model, tokenizer, cfg, answer_prefix, samples_path, proxy_path, info)
    finally:
        large = _is_large(model)
        del model
        _free_memory(large)
    return data


def _loader(name: str, samples: ProbeSamples, info: ActivationInfo) -> ModelActivations:
    folder = Path(info.folder)
    return ModelActivations(
        name=name,
        labels=samples.labels,
        groups=samples.groups,
        layers=list(info.layers),
        load=lambda layer: np.asarray(load_activations(folder, layer), dtype=np.float32),
        templates=samples.templates,
        neutral_wrong=samples.neutral_wrong,
    )


def _patching_ready(cfg: ProbeConfig, proxy_path: Path, info: dict) -> bool:
    if not cfg.patching.enabled:
        info["patching"] = "disabled"
        return False
    if not proxy_path.exists():
        info["patching"] = f"skipped: no logit-proxy items at {proxy_path}"
        return False
    return True


def _patching(
    name, model, tokenizer, cfg: ProbeConfig, answer_prefix: str, samples_path: Path, proxy_path: Path, info: dict
) -> list[dict]:
    """Patching rows of one model at the last prompt token and (with `cfg.answer_position`) the answer position."""
    neutral = read_neutral_prompts(samples_path)
    layers = resolve_layers(model, cfg.layers)
    rows, notes = [], {}
    for position, prefix in [("last", None), *([(ANSWER, answer_prefix)] if cfg.answer_position else [])]:
        items = patch_prompts(proxy_path, neutral, tokenizer, cfg.patching.max_prompts, answer_prefix=prefix)
        if not items:
            why = "no proxy item has a neutral prompt of its question in the eval samples"
            if prefix is not None:
                why += f" and continuations starting with the answer prefix {prefix!r}"
            notes[position] = f"skipped: {why}"
            continue
        patched: list[PatchRow] = activation_patching(model, tokenizer, items, layers, cfg.batch_size)
        notes[position] = f"{len(items)} prompts"
        rows += [{"model": name, "position": position, **vars(r)} for r in patched]
    info["patching"] = notes
    return rows


def _result_tables(
    position: str, results: ProbingResults, tables: dict[str, list[dict]], summary: dict, baselines: bool
) -> None:
    """The rows of one position's results; the baselines (labels only, the same at every position) once."""
    at = {"position": position}
    for name, kinds in results.own.items():
        own = summary["models"][name].setdefault("probes", {}).setdefault(position, {})
        for kind, scan in kinds.items():
            tables["own_auroc"] += [
                {"model": name, **at, "kind": kind, **{c: getattr(r, c) for c in columns(OwnAurocRow)[3:]}}
                for r in scan
            ]
            s = results.summaries[name][kind]
            tables["own_summary"].append(
                {"model": name, **at, **vars(s), "dropped_layers": results.dropped_layers.get(name, [])}
            )
            own[kind] = {**vars(s), "peak_name": hook_name(s.peak_layer) if s.peak_layer is not None else None}
    for name, (layer, steps) in results.ablation.items():
        tables["ablation"] += [{"model": name, **at, "layer": layer, **vars(step)} for step in steps]
    tables["own_by_template"] += [{**vars(r), **at} for r in results.by_template]
    if baselines:
        tables["baselines"] += [vars(r) for r in results.baselines]
    tables["transfer"] += [{**vars(r), **at} for r in results.transfer]
    tables["transfer_summary"] += [{**vars(s), **at} for s in results.transfer_summary]
    summary.setdefault("transfer", []).extend({**vars(s), **at} for s in results.transfer_summary)
    tables["cosine"] += [{**vars(r), **at} for r in results.cosine]
    tables["cosine_mean"] += [{**vars(r), **at} for r in results.cosine_mean]


def _causal(
    cfg: ProbeConfig,
    load_model: LoadModel,
    measure: Measure,
    source: ModelActivations,
    results: ProbingResults,
    tables: dict[str, list[dict]],
    summary: dict,
) -> None:
    """Direction interventions on the source model: the source's logistic probe direction (toward
    sycophancy) at its peak layer, removed, or added with `add` alphas that are fractions of the typical
    (median) residual norm at that layer."""
    if not cfg.intervention.enabled:
        summary["notes"].append("interventions disabled")
        return
    peak = results.peak_layer(source.name)
    model, _tokenizer = load_model(source.name)
    model.eval()
    try:
        baseline = _metrics(measure(model))
        summary["causal_baseline"] = baseline
        if cfg.intervention.enabled and peak is not None:
            probe = next(r.probe for r in results.own[source.name]["logistic"] if r.layer == peak)
            unit = probe_direction(probe)
            scale = float(np.median(np.linalg.norm(source.load(peak), axis=1)))
            rate = baseline["answer_sycophancy_rate"]
            runs: list[InterventionResult] = [
                intervention_effect(model, peak, unit, _rate(measure), mode="remove", baseline=rate),
                *[
                    intervention_effect(model, peak, unit, _rate(measure), mode="add", alpha=a * scale, baseline=rate)
                    for a in cfg.intervention.add_alphas
                ],
            ]
            relative = [None, *cfg.intervention.add_alphas]
            tables["intervention"] += [
                {
                    "model": source.name,
                    "layer": r.layer,
                    "mode": r.mode,
                    "alpha": rel,
                    "answer_sycophancy_rate_before": r.baseline,
                    "answer_sycophancy_rate_after": r.intervened,
                    "change": r.change,
                }
                for r, rel in zip(runs, relative, strict=True)
            ]
    finally:
        large = _is_large(model)
        del model
        _free_memory(large)


def _metrics(value: float | Mapping[str, float | None] | None) -> dict[str, float]:
    """The measure's result as {metric: value}; a missing value (nothing scored) becomes nan."""
    if isinstance(value, Mapping):
        if "answer_sycophancy_rate" not in value:
            raise TypeError("measure_sycophancy returned a mapping without 'answer_sycophancy_rate'")
        return {k: float("nan") if v is None else float(v) for k, v in value.items()}
    return {"answer_sycophancy_rate": float("nan") if value is None else float(value)}


def _rate(measure: Measure) -> Callable[[Any], float]:
    return lambda model: _metrics(measure(model))["answer_sycophancy_rate"]


def _is_large(model) -> bool:
    """On a GPU, or over 100M parameters: worth a full garbage collection once released."""
    return any(p.is_cuda for p in model.parameters()) or sum(p.numel() for p in model.parameters()) > 100_000_000


def _free_memory(large: bool) -> None:
    """Return a released large model's memory before the next one loads. A full `gc.collect` costs about a
    second in a process that imported transformers, so small CPU models are left to reference counting."""
    if large:
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _clean(value: Any) -> Any:
    """JSON/CSV-safe values: non-finite floats become None, numpy scalars Python, floats 6 significant digits."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    return value


def _write(out: Path, tables: Mapping[str, Sequence[dict]], summary: dict) -> None:
    for name, rows in tables.items():
        write_rows(out / f"{name}.csv", PROBE_TABLES[name], [_clean(row) for row in rows])
    atomic_write_json(out / "summary.json", _clean(summary))
    log.info("probing tables written to %s", out)
