"""Per-layer probes for "is this response sycophantic?" from the prompt's residual stream.

Protocol (the reference study's, made explicit and cross-fitted):
- A probe is a pipeline `StandardScaler -> LogisticRegression` (L2; `fit_logistic_batch`: fitted to the
  objective's optimum, every layer and fold of a scan in one batch of Newton steps), or a
  one-hidden-layer ReLU MLP (`mlp.mlp_out_of_fold`: every layer and fold of a model fit in one batch, a
  fixed number of full-batch Adam steps). Features are standardised on training folds only.
- Folds by base question (`question_folds`): a seeded permutation of the question ids dealt round-robin into
  `cv_folds` groups, the same assignment for every model of a study, so the source model's fold-k probe
  (fit on questions outside fold k) can score any model's fold-k samples (`transfer`). A sample is only
  ever scored by a probe that never saw its question.
- AUROC: of the pooled out-of-fold scores (one score per sample from the probe of its fold; a fold whose
  training part lacks a class leaves its samples unscored and out of the AUROC).
- Interval: 95% cluster bootstrap over questions of the pooled scores (`intervals.auroc_intervals`): it
  covers which questions were asked, for the fitted fold probes.
- Null: `ProbeConfig.n_null` question-block permutations of the labels within each fold
  (`stats.block_permutations`, strata = folds); for each, the probe is refit on every fold (`refit_null`: a
  one-step logistic fit, linear in the labels, so all permutations cost one matrix product per fold) and
  its pooled out-of-fold AUROC taken. `null_p95` is the null's 95th percentile, `p_value` the permutation
  p; a layer is "above chance" when its AUROC exceeds `null_p95`.
- Peak layer: the layer of highest AUROC (the earliest on ties), with the set of layers whose interval
  overlaps the peak's (the peak is not distinguishable from them); mean AUROC over the probed layers;
  noise floor: the mean `null_p95` over the probed layers. A layer constant across prompts (the embedding
  at the last prompt token is one row for every prompt) carries no information and is dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from sycolab.errors import UserError
from sycolab.probing.config import ProbeConfig
from sycolab.probing.intervals import auroc_intervals, bootstrap_weights
from sycolab.probing.logistic import fit_logistic_batch, probe_scores
from sycolab.probing.mlp import mlp_out_of_fold
from sycolab.probing.null import refit_null
from sycolab.probing.stats import auroc, block_permutations

Split = tuple[np.ndarray, np.ndarray]


def single_threaded(func: Callable) -> Callable:
    """Run `func` with BLAS limited to one thread: probe-sized matrices gain nothing from threads, and on
    shared cores oversubscribed BLAS threads make small fits several times slower."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class ClassCounts:
    n: int
    n_sycophantic: int
    n_honest: int


def class_counts(labels: np.ndarray) -> ClassCounts:
    y = np.asarray(labels, dtype=bool)
    return ClassCounts(n=int(y.size), n_sycophantic=int(y.sum()), n_honest=int((~y).sum()))


def too_few_reason(counts: ClassCounts, groups: np.ndarray, min_per_class: int) -> str | None:
    """Why no probe can be fit on these labels, or None when it can."""
    if counts.n_sycophantic < min_per_class or counts.n_honest < min_per_class:
        return (
            f"too few samples per class: {counts.n_sycophantic} sycophantic, {counts.n_honest} honest "
            f"(min_per_class={min_per_class})"
        )
    if len(np.unique(groups)) < 2:
        return "fewer than 2 base questions: grouped cross-validation is impossible"
    return None


def probe_direction(probe: Pipeline) -> np.ndarray:
    """Unit direction of a logistic probe in the raw activation space.

    The probe scores w . (x - mu) / sigma = (w / sigma) . x + const, so its direction in the raw space is
    w / sigma (sigma = the scaler's per-feature scale), normalised to length 1.
    """
    clf, scaler = probe[-1], probe[0]
    if not hasattr(clf, "coef_"):
        raise UserError("only a logistic probe has a direction")
    raw = clf.coef_[0] / scaler.scale_
    norm = np.linalg.norm(raw)
    return raw / norm if norm > 0 else raw


def question_folds(groups: Iterable[object], n_folds: int, seed: int) -> dict[str, int]:
    """question id -> fold: the sorted ids, permuted with `seed`, dealt round-robin into min(n_folds, #ids)."""
    ids = sorted({str(g) for g in groups})
    folds = min(n_folds, len(ids))
    if folds < 2:
        raise UserError(f"grouped cross-validation needs at least 2 base questions, got {len(ids)}")
    order = np.random.default_rng(seed).permutation(len(ids))
    return {ids[i]: rank % folds for rank, i in enumerate(order)}


def fold_ids(groups: np.ndarray, fold_of: Mapping[str, int]) -> np.ndarray:
    """The fold of each sample (by its question)."""
    return np.array([fold_of[str(g)] for g in groups], dtype=np.int64)


def splits_of(folds: np.ndarray) -> list[Split]:
    """(train, test) index pairs, one per fold that has test samples."""
    return [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in np.unique(folds)]


def grouped_splits(labels: np.ndarray, groups: np.ndarray, n_folds: int, seed: int) -> list[Split]:
    """Folds grouped by base question (`question_folds`); at most one fold per question."""
    return splits_of(fold_ids(np.asarray(groups), question_folds(groups, n_folds, seed)))


def out_of_fold(
    x: np.ndarray, y: np.ndarray, splits: Sequence[Split], fit: Callable[[np.ndarray, np.ndarray], Pipeline]
) -> tuple[np.ndarray, list[Pipeline | None]]:
    """(pooled out-of-fold scores [n], the probe of each split). A split whose training part lacks a class
    gets no probe, and its test samples keep a nan score."""
    y = np.asarray(y, dtype=bool)
    scores = np.full(y.size, np.nan)
    probes: list[Pipeline | None] = []
    for train, test in splits:
        if len(np.unique(y[train])) < 2:
            probes.append(None)
            continue
        probe = fit(x[train], y[train])
        scores[test] = probe_scores(probe, x[test])
        probes.append(probe)
    return scores, probes


def pooled_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUROC over the samples with a finite score (nan when a class is missing)."""
    keep = np.isfinite(scores)
    return auroc(scores[keep], np.asarray(labels, dtype=bool)[keep]) if keep.any() else float("nan")


def cv_auroc(
    x: np.ndarray, y: np.ndarray, splits: Sequence[Split], fit: Callable[[np.ndarray, np.ndarray], Pipeline]
) -> float:
    """AUROC of the pooled out-of-fold scores of `fit` over `splits`."""
    return pooled_auroc(out_of_fold(x, y, splits, fit)[0], y)


def is_constant(x: np.ndarray) -> bool:
    """Every row equal (no variance across prompts): no probe can read anything from it."""
    return bool(x.shape[0] < 2 or np.all(x == x[:1]))


@dataclass
class LayerResult:
    """One probe kind at one layer: pooled out-of-fold AUROC, its bootstrap interval and permutation null.

    `scores` are the out-of-fold scores; `fold_probes` the per-fold fits (logistic only: transfer scores
    with them) and `probe` the fit on all samples (logistic only: geometry, ablation and steering use it).
    """

    layer: int
    kind: str
    auroc: float
    null_p95: float
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    p_value: float = float("nan")
    scores: np.ndarray | None = None
    probe: Pipeline | None = None
    fold_probes: dict[int, Pipeline | None] | None = None


@dataclass(frozen=True)
class ProbeSummary:
    kind: str
    mean_auroc: float
    peak_layer: int | None
    peak_auroc: float
    layers_above_chance: list[int]
    noise_floor: float
    peak_ci_low: float = float("nan")
    peak_ci_high: float = float("nan")
    peak_set: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ScanDesign:
    """What every layer of one model shares: folds, the null's label permutations and bootstrap weights."""

    folds: np.ndarray  # [n] fold of each sample
    splits: list[Split]
    null_labels: np.ndarray  # [n_null, n] the labels under question-block permutations within folds
    boot_weights: np.ndarray  # [n_bootstrap, n] per-sample draw counts of the cluster bootstrap


def scan_design(
    labels: np.ndarray, groups: np.ndarray, cfg: ProbeConfig, fold_of: Mapping[str, int] | None = None
) -> ScanDesign:
    """Folds (from `fold_of`, or the model's own questions), the null permutations and bootstrap weights."""
    groups = np.asarray(groups)
    fold_of = fold_of or question_folds(groups, cfg.cv_folds, cfg.seed)
    folds = fold_ids(groups, fold_of)
    rng = np.random.default_rng([cfg.seed, 104729])
    return ScanDesign(
        folds=folds,
        splits=splits_of(folds),
        null_labels=np.asarray(labels, dtype=np.float64)[block_permutations(groups, cfg.n_null, rng, strata=folds)],
        boot_weights=bootstrap_weights(groups, cfg.n_bootstrap, cfg.seed),
    )


@single_threaded
def scan_layers(
    acts: Mapping[int, np.ndarray] | Callable[[int], np.ndarray],
    layers: Sequence[int],
    labels: np.ndarray,
    groups: np.ndarray,
    kind: str,
    cfg: ProbeConfig,
    design: ScanDesign | None = None,
    keep_probes: bool = True,
    null_cache: dict[int, np.ndarray] | None = None,
) -> list[LayerResult]:
    """Out-of-fold AUROC, interval and null of a `kind` probe at each non-constant layer (module docstring).

    `acts` gives the `[n, d]` activations of a layer (a dict or a loader, so layers can stream from disk).
    A layer constant across prompts gets no row. `keep_probes=False` keeps no logistic fits (and skips the fit
    on all samples), for probes that serve no transfer, geometry or ablation. `null_cache` ({layer: null})
    lets the kinds scanned on the same design share each layer's null.
    """
    y = np.asarray(labels, dtype=bool)
    design = design or scan_design(y, groups, cfg)
    get = acts if callable(acts) else acts.__getitem__

    kept = [layer for layer in layers if not is_constant(np.asarray(get(layer)))]
    mlp_scores = _mlp_scores(get, kept, y, design, cfg) if kind == "mlp" else {}
    logistic = _logistic_fits(get, kept, y, design, cfg, keep_probes) if kind == "logistic" else {}
    results = []
    for layer in kept:
        x = np.asarray(get(layer), dtype=np.float32)
        if kind == "mlp":
            scores = mlp_scores[layer]
        else:
            scores, fold_probes, full_probe = logistic[layer]
        null = null_cache.get(layer) if null_cache is not None else None
        if null is None:
            null = refit_null(x, design, cfg.logistic_c)
            if null_cache is not None:
                null_cache[layer] = null
        result = score_layer(layer, kind, scores, y, design, null)
        if kind == "logistic" and keep_probes:
            fold_of_split = [int(design.folds[test[0]]) for _, test in design.splits]
            result.fold_probes = dict(zip(fold_of_split, fold_probes, strict=True))
            result.probe = full_probe
        results.append(result)
    return results


LogisticFits = tuple[np.ndarray, list[Pipeline | None], Pipeline | None]


def _logistic_fits(
    get: Callable[[int], np.ndarray], layers: Sequence[int], y: np.ndarray, design: ScanDesign, cfg: ProbeConfig,
    keep_full: bool,
) -> dict[int, LogisticFits]:
    """{layer: (out-of-fold scores, each split's probe, the probe fit on all samples or None)}, as
    `out_of_fold` and `fit_probe` give them, every layer's and fold's fit solved together
    (`fit_logistic_batch`), in chunks of at most `_BATCH_VALUES` training values."""
    if not layers:
        return {}
    n, d = np.asarray(get(layers[0])).shape
    size = max(1, _BATCH_VALUES // max(1, (len(design.splits) + 1) * n * d))
    fitted = [index for index, (train, _) in enumerate(design.splits) if len(np.unique(y[train])) == 2]
    out: dict[int, LogisticFits] = {}
    for start in range(0, len(layers), size):
        chunk = list(layers[start : start + size])
        xs = [np.asarray(get(layer), dtype=np.float32) for layer in chunk]
        both = len(np.unique(y)) == 2
        full = fit_logistic_batch([(x, y) for x in xs], cfg) if both else [None] * len(xs)
        problems = [(x[design.splits[i][0]], y[design.splits[i][0]]) for x in xs for i in fitted]
        starts = [probe for probe in full for _ in fitted]  # each fold's fit starts from its layer's full fit
        probes = iter(fit_logistic_batch(problems, cfg, starts=starts))
        per_layer = [[next(probes) for _ in fitted] for _ in xs]
        for layer, x, fold_fits, full_probe in zip(chunk, xs, per_layer, full, strict=True):
            scores = np.full(y.size, np.nan)
            fold_probes: list[Pipeline | None] = [None] * len(design.splits)
            for index, probe in zip(fitted, fold_fits, strict=True):
                test = design.splits[index][1]
                scores[test] = probe_scores(probe, x[test])
                fold_probes[index] = probe
            out[layer] = (scores, fold_probes, full_probe if keep_full else None)
    return out


_BATCH_VALUES = 2**24  # training values (layers x folds x rows x width) per batched MLP or logistic fit: 128 MB of float64


def _mlp_scores(
    get: Callable[[int], np.ndarray], layers: Sequence[int], y: np.ndarray, design: ScanDesign, cfg: ProbeConfig
) -> dict[int, np.ndarray]:
    """{layer: out-of-fold MLP scores}, the layers fit in batches of at most `_BATCH_VALUES` training
    values (each problem's fit is independent of its batch: `mlp` module docstring)."""
    if not layers:
        return {}
    n, d = np.asarray(get(layers[0])).shape
    per_layer = max(1, len(design.splits) * n * d)
    size = max(1, _BATCH_VALUES // per_layer)
    out: dict[int, np.ndarray] = {}
    for start in range(0, len(layers), size):
        chunk = list(layers[start : start + size])
        scores = mlp_out_of_fold([np.asarray(get(layer), dtype=np.float32) for layer in chunk], y, design.splits,
                                 hidden=cfg.mlp_hidden, steps=cfg.mlp_steps, lr=cfg.mlp_lr, seed=cfg.seed)
        out.update(zip(chunk, scores, strict=True))
    return out


def score_layer(
    layer: int, kind: str, scores: np.ndarray, y: np.ndarray, design: ScanDesign, null: np.ndarray
) -> LayerResult:
    """AUROC and bootstrap interval of fixed out-of-fold `scores`, with the null's 95th percentile and the
    permutation p of the AUROC against the null AUROCs `null` [P]."""
    keep = np.isfinite(scores)
    value = pooled_auroc(scores, y)
    if not np.isfinite(value):
        return LayerResult(layer, kind, value, float("nan"), scores=scores)
    low, high = auroc_intervals(scores[keep][None, :], y[keep], design.boot_weights[:, keep])[0]
    null = null[np.isfinite(null)]
    if not null.size:
        return LayerResult(layer, kind, value, float("nan"), float(low), float(high), scores=scores)
    return LayerResult(
        layer, kind, value, float(np.quantile(null, 0.95)), float(low), float(high),
        float((1 + (null >= value - 1e-12).sum()) / (1 + null.size)), scores=scores,
    )


def summarise(results: Sequence[LayerResult]) -> ProbeSummary:
    """Mean AUROC, peak layer with its interval and overlapping layers, layers above the null, noise floor."""
    scored = [r for r in results if np.isfinite(r.auroc)]
    if not scored:
        return ProbeSummary(results[0].kind if results else "", float("nan"), None, float("nan"), [], float("nan"))
    peak = max(scored, key=lambda r: (r.auroc, -r.layer))
    nulls = [r.null_p95 for r in scored if np.isfinite(r.null_p95)]
    return ProbeSummary(
        kind=scored[0].kind,
        mean_auroc=float(np.mean([r.auroc for r in scored])),
        peak_layer=peak.layer,
        peak_auroc=float(peak.auroc),
        layers_above_chance=[r.layer for r in scored if np.isfinite(r.null_p95) and r.auroc > r.null_p95],
        noise_floor=float(np.mean(nulls)) if nulls else float("nan"),
        peak_ci_low=peak.ci_low,
        peak_ci_high=peak.ci_high,
        peak_set=overlapping(peak, scored),
    )


def overlapping(peak: LayerResult, results: Sequence[LayerResult]) -> list[int]:
    """Layers whose interval overlaps the peak's (the peak included); [peak] when intervals are missing."""
    if not (np.isfinite(peak.ci_low) and np.isfinite(peak.ci_high)):
        return [peak.layer]
    return [
        r.layer for r in results if np.isfinite(r.ci_high) and r.ci_high >= peak.ci_low and r.ci_low <= peak.ci_high
    ]
