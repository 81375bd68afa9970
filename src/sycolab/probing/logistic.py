"""The logistic probe, `StandardScaler -> LogisticRegression` (L2, lbfgs), fitted and applied without
scikit-learn's per-call overhead: the same floats as `Pipeline.fit` and `decision_function`
(test_probing_probes checks both), a few times faster at probe sizes, where the study makes about a
thousand fits."""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sycolab.errors import UserError
from sycolab.probing.config import ProbeConfig
from sycolab.probing.lbfgsb import minimize_lbfgsb


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
    """The logistic probe of `make_probe`, fitted: the same pipeline and the same solution, faster.

    Minimises scikit-learn's lbfgs objective on the standardised features,
        (1/n) sum_i [log(1 + exp(m_i)) - y_i m_i] + ||w||^2 / (2 C n),   m_i = w . z_i + b (b unpenalised),
    with scipy's L-BFGS-B (scikit-learn's solver, its gtol 1e-4 and iteration cap), then sets the fitted
    attributes of the pipeline's `LogisticRegression`. The optimum is unique (strictly convex), so the
    coefficients are scikit-learn's (test_probing_probes checks it); what is saved is scikit-learn's
    per-fit validation overhead, most of a fit's time at probe sizes, where the study makes hundreds of fits
    (the scaler's statistics are computed as `StandardScaler.fit` computes them, `_fit_scaler`).
    """
    probe = make_probe("logistic", cfg)
    scaler, clf = probe[0], probe[-1]
    _fit_scaler(scaler, x)
    z = standardise(scaler, x).astype(np.float64)
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
