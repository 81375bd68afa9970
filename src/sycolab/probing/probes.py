"""Per-layer probes for "is this response sycophantic?" from the prompt's residual stream.

Protocol (the reference study's, made explicit and cross-fitted):
- A probe is a pipeline `StandardScaler -> classifier`: logistic regression (L2, lbfgs) or a one-hidden-layer
  ReLU MLP (`MLPClassifier`, L2 alpha 1e-2, lbfgs: on a few hundred samples it converges faster than
  adam). The scaler is fit on training folds only.
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
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit
from scipy.stats import rankdata
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sycolab.errors import UserError
from sycolab.probing.config import ProbeConfig
from sycolab.probing.intervals import auroc_intervals, bootstrap_weights
from sycolab.probing.lbfgsb import minimize_lbfgsb
from sycolab.probing.mlp import LbfgsbMLPClassifier
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


def make_probe(kind: str, cfg: ProbeConfig) -> Pipeline:
    """A fresh, unfitted probe of `kind` ("logistic" or "mlp")."""
    if kind == "logistic":
        clf = LogisticRegression(C=cfg.logistic_c, solver="lbfgs", max_iter=cfg.max_iter)
    elif kind == "mlp":
        clf = LbfgsbMLPClassifier(
            hidden_layer_sizes=(cfg.mlp_hidden,),
            solver="lbfgs",
            alpha=1e-2,
            max_iter=cfg.max_iter,
            random_state=cfg.seed,
        )
    else:
        raise UserError(f'probe kind must be "logistic" or "mlp", got {kind!r}')
    return make_pipeline(StandardScaler(), clf)


def fit_probe(kind: str, x: np.ndarray, y: np.ndarray, cfg: ProbeConfig) -> Pipeline:
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=bool)
    if kind == "logistic":
        return fit_logistic(x, y, cfg)
    probe = make_probe(kind, cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(x, y)
    return probe


def fit_logistic(x: np.ndarray, y: np.ndarray, cfg: ProbeConfig) -> Pipeline:
    """The logistic probe of `make_probe`, fitted: the same pipeline and the same solution, faster.

    Minimises scikit-learn's lbfgs objective on the standardised features,
        (1/n) sum_i [log(1 + exp(m_i)) - y_i m_i] + ||w||^2 / (2 C n),   m_i = w . z_i + b (b unpenalised),
    with scipy's L-BFGS-B (scikit-learn's solver, its gtol 1e-4 and iteration cap), then sets the fitted
    attributes of the pipeline's `LogisticRegression`. The optimum is unique (strictly convex), so the
    coefficients are scikit-learn's (test_probing_probes checks it); what is saved is scikit-learn's
    per-fit validation overhead, most of a fit's time at probe sizes, where the study makes hundreds of fits.
    """
    probe = make_probe("logistic", cfg)
    scaler, clf = probe[0], probe[-1]
    z = scaler.fit_transform(x).astype(np.float64)
    target = y.astype(np.float64)
    n, d = z.shape
    ridge = 1.0 / (cfg.logistic_c * n)

    def loss_and_grad(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        margin = z @ w + b
        residual = (expit(margin) - target) / n
        loss = float((np.logaddexp(0.0, margin) - target * margin).sum() / n + 0.5 * ridge * (w @ w))
        return loss, np.concatenate([z.T @ residual + ridge * w, [residual.sum()]])

    fit = minimize_lbfgsb(loss_and_grad, np.zeros(d + 1), maxiter=cfg.max_iter, gtol=1e-4)
    clf.coef_, clf.intercept_ = fit.x[None, :-1], fit.x[-1:]
    clf.classes_, clf.n_features_in_, clf.n_iter_ = np.array([False, True]), d, np.array([fit.nit])
    return probe


def probe_scores(probe: Pipeline, x: np.ndarray) -> np.ndarray:
    """Continuous scores, higher = more sycophantic (logit for logistic, P(sycophantic) for the MLP)."""
    x = np.asarray(x, dtype=np.float32)
    if hasattr(probe[-1], "decision_function"):
        return probe.decision_function(x)
    return probe.predict_proba(x)[:, 1]


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

    def fit(x: np.ndarray, labels_: np.ndarray) -> Pipeline:
        return fit_probe(kind, x, labels_, cfg)

    results = []
    for layer in layers:
        x = np.asarray(get(layer), dtype=np.float32)
        if is_constant(x):
            continue
        scores, fold_probes = out_of_fold(x, y, design.splits, fit)
        null = null_cache.get(layer) if null_cache is not None else None
        if null is None:
            null = refit_null(x, design, cfg.logistic_c)
            if null_cache is not None:
                null_cache[layer] = null
        result = score_layer(layer, kind, scores, y, design, null)
        if kind == "logistic" and keep_probes:
            fold_of_split = [int(design.folds[test[0]]) for _, test in design.splits]
            result.fold_probes = dict(zip(fold_of_split, fold_probes, strict=True))
            result.probe = fit(x, y)
        results.append(result)
    return results


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


def refit_null(x: np.ndarray, design: ScanDesign, c: float) -> np.ndarray:
    """[P] pooled out-of-fold AUROCs of a linear probe refit, fold by fold, to each permuted label vector.

    A refit per permutation is what makes the null valid: scoring permuted held-out labels against fixed
    out-of-fold scores is not, because fold j's probe was fit on fold k's labels, so the folds' AUROCs share
    the same noise (measured: 10% false positives at a 5% level). Refitting the logistic probe hundreds of
    times per layer is too slow, so each refit is its one Newton step from the intercept-only fit (the
    score test's direction), which is linear in the labels:
        w = C (C p(1-p) Z'Z + I)^-1 Z'(y - p),   b = logit(p),
    Z the training part standardised with its own mean and scale, p its label rate (fixed within folds by
    the permutation scheme). Under the null the logistic fit stays near that point, so this is its refit
    null to first order (test_probing_transfer checks the false-positive rate). All permutations of a fold
    are one matrix product; the solve uses Z'Z or ZZ', whichever is smaller. Also the null of the MLP probe
    (an approximation: the MLP is never refit).
    """
    labels = design.null_labels
    out = np.full(labels.shape, np.nan)
    x = np.asarray(x, dtype=np.float64)
    for train, test in design.splits:
        rate = float(labels[0, train].mean())
        if not 0 < rate < 1:
            continue
        mean, scale = x[train].mean(0), x[train].std(0)
        scale[scale == 0] = 1.0
        z, z_test = (x[train] - mean) / scale, (x[test] - mean) / scale
        curvature = c * rate * (1 - rate)
        if z.shape[0] >= z.shape[1]:
            weights_of = np.linalg.solve(curvature * (z.T @ z) + np.eye(z.shape[1]), c * z.T)  # [d, n_train]
            hat = z_test @ weights_of
        else:
            hat = c * (z_test @ z.T) @ np.linalg.inv(curvature * (z @ z.T) + np.eye(z.shape[0]))
        out[:, test] = np.log(rate / (1 - rate)) + (labels[:, train] - rate) @ hat.T
    keep = np.isfinite(out[0])
    if not keep.any():
        return np.full(labels.shape[0], np.nan)
    return _row_aurocs(out[:, keep], labels[:, keep])


def _row_aurocs(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC of each row of `scores` [P, n] against the same row of 0/1 `labels` [P, n] (same positives count)."""
    n1 = labels[0].sum()
    n0 = labels.shape[1] - n1
    if n1 == 0 or n0 == 0:
        return np.full(scores.shape[0], np.nan)
    ranks = rankdata(scores, axis=1)
    return ((ranks * labels).sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0)


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
