"""minimize_lbfgsb visits scipy's L-BFGS-B points."""


import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from sycolab.probing import lbfgsb
from sycolab.probing.lbfgsb import minimize_lbfgsb


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
