"""The logistic probe, `StandardScaler -> LogisticRegression` (L2), fitted and applied without
scikit-learn's per-call overhead: the scaler's floats, the objective's optimum (batched Newton steps,
`fit_logistic_batch`) and `decision_function`'s floats (test_probing_probes checks all three), many times
faster at probe sizes, where the study makes over a thousand fits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sycolab.errors import UserError
from sycolab.probing.config import ProbeConfig
from sycolab.probing.lbfgsb import minimize_lbfgsb
from sycolab.probing.newton import newton_logistic


def make_probe(kind: str, cfg: ProbeConfig) -> Pipeline:
    """A fresh, unfitted logistic probe (the MLP probe has no per-fit object: `mlp.mlp_out_of_fold`)."""
    if kind != "logistic":
        raise UserError(f'only the "logistic" probe is a scikit-learn pipeline, got {kind!r}')
    return make_pipeline(StandardScaler(), LogisticRegression(C=cfg.logistic_c, solver="lbfgs", max_iter=cfg.max_iter))


def fit_probe(kind: str, x: np.ndarray, y: np.ndarray, cfg: ProbeConfig) -> Pipeline:
    """A fitted logistic probe (`fit_logistic`)."""
    if kind != "logistic":
        raise UserError(f'only the "logistic" probe is fit one at a time, got {kind!r}')
    return fit_logistic(np.asarray(x, dtype=np.float32), np.asarray(y, dtype=bool), cfg)


def fit_logistic(x: np.ndarray, y: np.ndarray, cfg: ProbeConfig) -> Pipeline:
    """The logistic probe of `make_probe`, fitted: the same pipeline at the same optimum (`fit_logistic_batch`)."""
    return fit_logistic_batch([(x, y)], cfg)[0]


def fit_logistic_batch(
    problems: Sequence[tuple[np.ndarray, np.ndarray]], cfg: ProbeConfig, starts: Sequence[Pipeline | None] | None = None
) -> list[Pipeline]:
    """One fitted `make_probe` pipeline per (x, y), fitted together. `starts[k]`, a fitted probe on nearby
    data (a fold's probe from the probe on all samples), is where problem k's Newton steps begin: the same
    scores re-expressed on problem k's standardisation (`_start_params`); it saves steps, the optimum is
    the same.

    Each pipeline minimises scikit-learn's lbfgs objective on its own standardised features,
        (1/n) sum_i [log(1 + exp(m_i)) - y_i m_i] + ||w||^2 / (2 C n),   m_i = w . z_i + b (b unpenalised),
    whose optimum is unique (strictly convex): scikit-learn's own fit stops near it (gradient 1e-4), these
    fits at it. Problems of width d <= `NEWTON_MAX_WIDTH` are solved together by batched Newton steps
    (`newton.newton_logistic`, chunked to `_NEWTON_BATCH_VALUES`); wider ones, where a Newton step's
    d^3 solve costs more than a whole L-BFGS fit, one at a time by scipy's L-BFGS-B with scikit-learn's
    settings (`lbfgsb.minimize_lbfgsb`, gtol 1e-4, `cfg.max_iter`). The scaler's statistics are computed
    as `StandardScaler.fit` computes them (`_fit_scaler`); the pipelines carry scikit-learn's fitted
    attributes, so `predict` and `decision_function` work on them.
    """
    probes, zs, ys = [], [], []
    for x, y in problems:
        probe = make_probe("logistic", cfg)
        x = np.asarray(x, dtype=np.float32)
        _fit_scaler(probe[0], x)
        probes.append(probe)
        zs.append(standardise(probe[0], x).astype(np.float64))
        ys.append(np.asarray(y, dtype=bool))
    narrow = [k for k, z in enumerate(zs) if z.shape[1] <= NEWTON_MAX_WIDTH]
    for chunk in _chunks(narrow, [zs[k].shape for k in narrow]):
        begin = np.array([_start_params(probes[k][0], starts[k] if starts else None, zs[k].shape[1]) for k in chunk])
        fits = newton_logistic([zs[k] for k in chunk], [ys[k] for k in chunk], cfg.logistic_c, cfg.max_iter, begin)
        for k, fit in zip(chunk, fits, strict=True):
            _set_fitted(probes[k][-1], fit.coef, fit.intercept, fit.n_iter)
    for k in sorted(set(range(len(zs))) - set(narrow)):
        coef, intercept, n_iter = _lbfgs_fit(zs[k], ys[k], cfg)
        _set_fitted(probes[k][-1], coef, intercept, n_iter)
    return probes


NEWTON_MAX_WIDTH = 1024  # above this width a Newton step's d^3 solve outweighs a whole L-BFGS fit
_NEWTON_BATCH_VALUES = 2**23  # float64 values (design + Hessians) per Newton batch: 64 MB


def _chunks(indices: list[int], shapes: list[tuple[int, ...]]) -> list[list[int]]:
    """`indices` in order, cut into runs of one width whose padded design and Hessians fit the budget."""
    out: list[list[int]] = []
    values, width = 0, -1
    for index, (n, d) in zip(indices, shapes, strict=True):
        cost = (n + d + 1) * (d + 1)
        if not out or values + cost > _NEWTON_BATCH_VALUES or d != width:
            out.append([])
            values, width = 0, d
        out[-1].append(index)
        values += cost
    return out


def _start_params(scaler: StandardScaler, start: Pipeline | None, width: int) -> np.ndarray:
    """[coefficients, intercept] on `scaler`'s standardisation giving the scores of the fitted `start`
    (zeros without one): w.(x - m)/s + b = w'.(x - m')/s' + b' for w' = w s'/s, b' = b + w.(m' - m)/s."""
    if start is None:
        return np.zeros(width + 1)
    w, b = start[-1].coef_[0] / start[0].scale_, float(start[-1].intercept_[0])
    return np.r_[w * scaler.scale_, b + w @ (scaler.mean_ - start[0].mean_)]


def _set_fitted(clf: LogisticRegression, coef: np.ndarray, intercept: float, n_iter: int) -> None:
    clf.coef_, clf.intercept_ = np.asarray(coef)[None, :], np.array([intercept])
    clf.classes_, clf.n_features_in_, clf.n_iter_ = np.array([False, True]), coef.size, np.array([n_iter])


def _lbfgs_fit(z: np.ndarray, y: np.ndarray, cfg: ProbeConfig) -> tuple[np.ndarray, float, int]:
    """scikit-learn's lbfgs fit of the objective of `fit_logistic_batch` (gtol 1e-4, `cfg.max_iter`)."""
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
    return fit.x[:-1], float(fit.x[-1]), fit.nit


def probe_scores(probe: Pipeline, x: np.ndarray) -> np.ndarray:
    """The logistic probe's logit (higher = more sycophantic): `probe.decision_function(x)`, the same
    floats without scikit-learn's per-call validation."""
    clf = probe[-1]
    return (standardise(probe[0], np.asarray(x, dtype=np.float32)) @ clf.coef_.T + clf.intercept_).ravel()


def _fit_scaler(scaler: StandardScaler, x: np.ndarray) -> None:
    """`scaler.fit(x)` for a dense finite float32 `x`, the same floats: float64 sums, the corrected two-pass
    variance of `sklearn.utils.extmath._incremental_mean_and_var`, and unit scale where the variance is
    within rounding of 0 (`_is_constant_feature`)."""
    n = x.shape[0]
    count = np.full(x.shape[1], float(n))
    total = np.sum(x, axis=0, dtype=np.float64)
    mean = total / count
    deviation = x - total / count
    correction = np.sum(deviation, axis=0, dtype=np.float64)
    deviation **= 2
    var = (np.sum(deviation, axis=0, dtype=np.float64) - correction**2 / count) / count
    eps = np.finfo(np.float64).eps
    scale = np.sqrt(var)
    scale[var <= n * eps * var + (n * mean * eps) ** 2] = 1.0
    scaler.mean_, scaler.var_, scaler.scale_ = mean, var, scale
    scaler.n_samples_seen_, scaler.n_features_in_ = n, x.shape[1]


def standardise(scaler: StandardScaler, x: np.ndarray) -> np.ndarray:
    """`scaler.transform(x)`, the same floats: in place in x's float type (float64 for other types), by the
    statistics cast to that type."""
    x = np.asarray(x)
    z = np.array(x, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
    z -= scaler.mean_.astype(z.dtype)
    z /= scaler.scale_.astype(z.dtype)
    return z
