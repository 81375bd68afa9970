"""All probe statistics of a study from stored activations and labels (no model needed).

For each model with enough samples: per-layer probes of every kind with bootstrap intervals and
permutation nulls (`probes`), probes within each template, the shortcut baselines (`baselines`), the
logistic peak layer's ablation curve (`ablation`); across models: the source's cross-fitted transfer with
max-T permutation p-values over layers and Holm over targets (`transfer`), and the cosine between probe
directions per layer and averaged over layers (`geometry`). One assignment of questions to folds serves
every model, so the source's fold probes, fit for its own cross-validation, are the transfer probes; the
logistic fit on all of a layer's samples serves geometry, ablation and steering.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from sycolab.probing.ablation import AblationStep, ablation_curve
from sycolab.probing.baselines import OWN_BASELINES, agreement_scores, baseline_keys, lookup_scores
from sycolab.probing.config import ProbeConfig
from sycolab.probing.geometry import CosineMeanRow, CosineRow, cosine_mean_rows, cosine_rows
from sycolab.probing.intervals import auroc_intervals
from sycolab.probing.probes import (
    LayerResult,
    ProbeSummary,
    ScanDesign,
    class_counts,
    fold_ids,
    pooled_auroc,
    probe_direction,
    question_folds,
    scan_design,
    scan_layers,
    single_threaded,
    summarise,
)
from sycolab.probing.transfer import (
    TransferRow,
    TransferSummary,
    correct_across_targets,
    crossfit_scores,
    summarise_transfer,
    transfer_rows,
)


@dataclass
class ModelActivations:
    """A model's probe inputs: labels and base-question groups per row, a loader of `[n, d]` per layer, and
    (for the baselines and per-template probes) each row's template and neutral-answer knowledge."""

    name: str
    labels: np.ndarray
    groups: np.ndarray
    layers: list[int]
    load: Callable[[int], np.ndarray]
    templates: np.ndarray | None = None
    neutral_wrong: np.ndarray | None = None


@dataclass(frozen=True)
class TemplateRow:
    """A logistic probe fit and scored within one template (same folds, same statistics)."""

    model: str
    layer: int
    template: str
    n: int
    auroc: float
    ci_low: float
    ci_high: float
    null_p95: float


@dataclass(frozen=True)
class BaselineRow:
    model: str
    baseline: str
    auroc: float
    ci_low: float
    ci_high: float
    n: int


@dataclass
class ProbingResults:
    own: dict[str, dict[str, list[LayerResult]]] = field(default_factory=dict)
    summaries: dict[str, dict[str, ProbeSummary]] = field(default_factory=dict)
    by_template: list[TemplateRow] = field(default_factory=list)
    baselines: list[BaselineRow] = field(default_factory=list)
    dropped_layers: dict[str, list[int]] = field(default_factory=dict)
    transfer: list[TransferRow] = field(default_factory=list)
    transfer_summary: list[TransferSummary] = field(default_factory=list)
    cosine: list[CosineRow] = field(default_factory=list)
    cosine_mean: list[CosineMeanRow] = field(default_factory=list)
    ablation: dict[str, tuple[int, list[AblationStep]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def peak_layer(self, model: str, kind: str = "logistic") -> int | None:
        summary = self.summaries.get(model, {}).get(kind)
        return summary.peak_layer if summary else None


@single_threaded
def analyse(models: Mapping[str, ModelActivations], cfg: ProbeConfig) -> ProbingResults:
    """Own probes, baselines, ablation, transfer from `cfg.transfer_from` and direction cosines for `models`."""
    results = ProbingResults()
    clock = time.perf_counter()
    fold_of = question_folds(np.concatenate([np.asarray(m.groups) for m in models.values()]), cfg.cv_folds, cfg.seed)
    designs: dict[str, ScanDesign] = {}
    for name, data in models.items():
        design = designs[name] = scan_design(data.labels, data.groups, cfg, fold_of)
        results.own[name] = {}
        results.summaries[name] = {}
        layers = list(data.layers)
        nulls: dict[int, np.ndarray] = {}
        for kind in cfg.kinds:
            scan = scan_layers(data.load, layers, data.labels, data.groups, kind, cfg, design, null_cache=nulls)
            if kind == "logistic":
                dropped = [layer for layer in layers if layer not in {r.layer for r in scan}]
                if dropped:
                    results.dropped_layers[name] = dropped
                    results.notes.append(f"{name}: layers {dropped} dropped (constant across prompts)")
                layers = [r.layer for r in scan]
            results.own[name][kind] = scan
            results.summaries[name][kind] = summarise(scan)
        if data.templates is not None:
            results.baselines += _own_baselines(name, data, data.templates, design)
            results.by_template += _by_template(name, data, data.templates, layers, cfg, fold_of)
        peak = results.peak_layer(name)
        if peak is not None:
            original = next(r for r in results.own[name]["logistic"] if r.layer == peak)
            steps = ablation_curve(
                data.load(peak), data.labels, design.splits, cfg, cfg.ablation_k,
                original_auroc=original.auroc, fold_probes=list((original.fold_probes or {}).values()),
            )
            results.ablation[name] = (peak, steps)
    results.seconds["own_and_ablation"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _transfer(models, cfg, fold_of, designs, results)
    results.seconds["transfer"] = time.perf_counter() - clock

    directions: dict[int, dict[str, np.ndarray]] = {}
    for name in models:
        for r in results.own[name]["logistic"]:
            if r.probe is not None:
                directions.setdefault(r.layer, {})[name] = probe_direction(r.probe)
    for layer, by_model in directions.items():
        width = next(iter(by_model.values())).size
        odd = [name for name, vec in by_model.items() if vec.size != width]
        if odd:
            results.notes.append(
                f"cosine at layer {layer}: {odd} have another d_model than {next(iter(by_model))}; left out"
            )
            directions[layer] = {name: vec for name, vec in by_model.items() if vec.size == width}
    results.cosine = cosine_rows(directions)
    results.cosine_mean = cosine_mean_rows(results.cosine)
    return results


def _own_baselines(name: str, data: ModelActivations, templates: np.ndarray, design: ScanDesign) -> list[BaselineRow]:
    y = np.asarray(data.labels, dtype=bool)
    unknown = np.full(y.size, None, dtype=object)
    keys = baseline_keys(templates, data.neutral_wrong if data.neutral_wrong is not None else unknown)
    return [_baseline_row(name, b, lookup_scores(keys[b], y, design.splits), y, design) for b in OWN_BASELINES]


def _baseline_row(name: str, baseline: str, scores: np.ndarray, y: np.ndarray, design: ScanDesign) -> BaselineRow:
    keep = np.isfinite(scores)
    low, high = auroc_intervals(scores[keep], y[keep], design.boot_weights[:, keep])[0]
    return BaselineRow(name, baseline, pooled_auroc(scores, y), float(low), float(high), int(keep.sum()))


def _by_template(
    name: str,
    data: ModelActivations,
    templates: np.ndarray,
    layers: list[int],
    cfg: ProbeConfig,
    fold_of: Mapping[str, int],
) -> list[TemplateRow]:
    """Logistic probes fit and scored within each template with enough samples of both classes."""
    rows = []
    for template in sorted(set(templates)):
        idx = np.flatnonzero(templates == template)
        y, groups = np.asarray(data.labels, dtype=bool)[idx], np.asarray(data.groups)[idx]
        counts = class_counts(y)
        if min(counts.n_sycophantic, counts.n_honest) < cfg.min_per_class or len(set(groups)) < 2:
            continue
        design = scan_design(y, groups, cfg, fold_of)

        def rows_of(layer: int, idx: np.ndarray = idx) -> np.ndarray:
            return data.load(layer)[idx]

        scan = scan_layers(rows_of, layers, y, groups, "logistic", cfg, design, keep_probes=False)
        rows += [TemplateRow(name, r.layer, template, idx.size, r.auroc, r.ci_low, r.ci_high, r.null_p95) for r in scan]
    return rows


def target_rng(seed: int, target: str) -> np.random.Generator:
    """The permutation stream of one transfer target, from the probe seed and the target's name (sha256), so
    a target's p-values do not depend on which other models are probed or in what order."""
    return np.random.default_rng([seed, int.from_bytes(hashlib.sha256(target.encode()).digest()[:8], "little")])


def _transfer(
    models: Mapping[str, ModelActivations],
    cfg: ProbeConfig,
    fold_of: Mapping[str, int],
    designs: Mapping[str, ScanDesign],
    results: ProbingResults,
) -> None:
    source = cfg.transfer_from
    if source not in models:
        results.notes.append(f"transfer skipped: source model '{source}' has no fitted probe")
        return
    src = models[source]
    fold_probes = {r.layer: r.fold_probes for r in results.own[source]["logistic"] if r.fold_probes}
    width = src.load(src.layers[0]).shape[1]
    agreement: dict[str, float] = {}
    for target, data in models.items():
        if target == source:
            continue
        if data.load(data.layers[0]).shape[1] != width:
            results.notes.append(f"transfer to '{target}' skipped: its d_model differs from '{source}'")
            continue
        kept = {r.layer for r in results.own[target]["logistic"]}
        shared = {layer: fold_probes[layer] for layer in sorted(fold_probes) if layer in kept}
        layers, scores = crossfit_scores(shared, data.load, fold_ids(np.asarray(data.groups), fold_of))
        results.transfer += transfer_rows(source, target, layers, scores, data.labels, data.groups,
                                          cfg.n_permutations, target_rng(cfg.seed, target), designs[target].boot_weights)
        if data.templates is not None and src.templates is not None:
            y = np.asarray(data.labels, dtype=bool)
            scores = agreement_scores(data.groups, data.templates, src.groups, src.templates, src.labels)
            row = _baseline_row(target, f"agreement with {source}", scores, y, designs[target])
            results.baselines.append(row)
            agreement[target] = row.auroc
    correct_across_targets(results.transfer, cfg.n_permutations)
    results.transfer_summary = summarise_transfer(results.transfer, agreement)
