"""minimize_lbfgsb visits scipy's L-BFGS-B points; the MLP probe's classifier is scikit-learn's, bit for bit."""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sycolab.probing import lbfgsb
from sycolab.probing.lbfgsb import minimize_lbfgsb
from sycolab.probing.mlp import LbfgsbMLPClassifier


def test_quadratic_by_hand():
    # f(x) = (x0 - 3)^2 + 2 (x1 + 1)^2: minimum at (3, -1), value 0.
    def fun(x):
        return (x[0] - 3) ** 2 + 2 * (x[1] + 1) ** 2, np.array([2 * (x[0] - 3), 4 * (x[1] + 1)])

    fit = minimize_lbfgsb(fun, np.zeros(2), maxiter=100, gtol=1e-10, ftol=1e-20)
    assert fit.x == pytest.approx([3.0, -1.0], abs=1e-8)
    assert fit.fun == pytest.approx(0.0, abs=1e-14)
    assert fit.nit < 100


def logistic_problem(seed=0, n=80, d=6):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    y = (z[:, 0] + rng.normal(size=n) > 0).astype(float)

    def fun(params):
        margin = z @ params[:-1] + params[-1]
        residual = (expit(margin) - y) / n
        loss = float((np.logaddexp(0.0, margin) - y * margin).sum() / n + 0.05 * params[:-1] @ params[:-1])
        return loss, np.concatenate([z.T @ residual + 0.1 * params[:-1], [residual.sum()]])

    return fun, d + 1


@pytest.mark.parametrize("maxiter", [3, 200])
def test_same_iterates_as_scipy_minimize(maxiter):
    fun, size = logistic_problem()
    ours = minimize_lbfgsb(fun, np.zeros(size), maxiter=maxiter, gtol=1e-6)
    theirs = minimize(fun, np.zeros(size), jac=True, method="L-BFGS-B", options={"maxiter": maxiter, "gtol": 1e-6})
    assert np.array_equal(ours.x, theirs.x)  # bit for bit, also when stopped at the cap
    assert ours.fun == theirs.fun
    assert (ours.nit, ours.nfev) == (theirs.nit, theirs.nfev)


def test_fallback_to_minimize_gives_the_same(monkeypatch):
    fun, size = logistic_problem(seed=1)
    fast = minimize_lbfgsb(fun, np.zeros(size), maxiter=50, gtol=1e-6)
    monkeypatch.setattr(lbfgsb, "_setulb", lambda: None)
    slow = minimize_lbfgsb(fun, np.zeros(size), maxiter=50, gtol=1e-6)
    assert np.array_equal(fast.x, slow.x) and fast.nit == slow.nit


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_iter", [5, 200])
def test_mlp_probe_classifier_is_scikit_learns(dtype, max_iter):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(90, 10)).astype(dtype)
    y = (x[:, 0] * x[:, 1] + 0.3 * rng.normal(size=90)) > 0
    settings = dict(hidden_layer_sizes=(8,), solver="lbfgs", alpha=1e-2, max_iter=max_iter, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = MLPClassifier(**settings).fit(x, y)
        ours = LbfgsbMLPClassifier(**settings).fit(x, y)
    for a, b in zip(ref.coefs_ + ref.intercepts_, ours.coefs_ + ours.intercepts_, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert ours.loss_ == ref.loss_ and ours.n_iter_ == ref.n_iter_
    assert np.array_equal(ours.predict_proba(x), ref.predict_proba(x))


def test_mlp_probe_warns_at_its_iteration_cap():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 4)), rng.random(40) < 0.5
    with pytest.warns(ConvergenceWarning, match="iteration cap"):
        LbfgsbMLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=2, random_state=0).fit(x, y)
