"""scipy's L-BFGS-B without `scipy.optimize.minimize`'s per-evaluation wrappers: the same iterates, faster.

The probe stage makes a few thousand small fits (logistic and MLP probes over layers, folds, templates and
models) of a few hundred iterations each; at probe sizes, `minimize`'s bookkeeping around every evaluation
(`ScalarFunction`, `MemoizeJac`, copies of x, an `OptimizeResult` per iteration) costs as much as the
evaluation itself. `minimize_lbfgsb` drives the same compiled routine (`scipy.optimize._lbfgsb.setulb`)
with the same arguments, workspace and stopping rules as scipy's `_minimize_lbfgsb` (scipy 1.15-1.17, no
bounds, no callback), so it visits the same points and returns the same solution bit for bit
(`tests/unit/test_probing_lbfgsb.py` checks it against `minimize`). On a scipy whose `setulb` is not that
one it falls back to `minimize` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

LossAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class LbfgsbResult:
    x: np.ndarray
    fun: float
    nit: int  # iterations (scipy's `nit`)
    nfev: int  # evaluations of the function


def _setulb() -> Callable | None:
    """scipy's compiled L-BFGS-B step with the 17-argument signature of scipy >= 1.15, else None."""
    import scipy

    try:
        from scipy.optimize import _lbfgsb
    except ImportError:  # pragma: no cover - a scipy without it
        return None
    major, minor = (int(part) for part in scipy.__version__.split(".")[:2])
    return _lbfgsb.setulb if (major, minor) >= (1, 15) and hasattr(_lbfgsb, "setulb") else None


def minimize_lbfgsb(
    fun: LossAndGrad,
    x0: np.ndarray,
    *,
    maxiter: int,
    gtol: float,
    maxfun: int = 15000,
    maxcor: int = 10,
    ftol: float = 2.2204460492503131e-09,
    maxls: int = 20,
) -> LbfgsbResult:
    """`scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", options={...})`, unbounded.

    `fun(x)` returns (loss, gradient). As in scipy, `fun` sees x cast to x0's floating dtype, and is
    evaluated at x0 first; its value is reused when the routine asks for x0 again.
    """
    setulb = _setulb()
    x0 = np.asarray(x0).ravel()
    if setulb is None:
        from scipy.optimize import minimize

        res = minimize(fun, x0, jac=True, method="L-BFGS-B",
                       options={"maxiter": maxiter, "gtol": gtol, "maxfun": maxfun, "maxcor": maxcor,
                                "ftol": ftol, "maxls": maxls})
        return LbfgsbResult(np.asarray(res.x), float(res.fun), int(res.nit), int(res.nfev))
    dtype = x0.dtype if np.issubdtype(x0.dtype, np.floating) else np.float64
    n = x0.size
    m = maxcor
    factr = ftol / np.finfo(float).eps
    nfev = 0

    def evaluate(point: np.ndarray) -> tuple[Any, np.ndarray]:  # the value as `fun` gave it, as scipy keeps it
        nonlocal nfev
        value, grad = fun(point.astype(dtype))  # astype copies: `fun` may keep or change its argument
        nfev += 1
        if not np.isscalar(value):
            value = np.asarray(value).item()
        return value, np.atleast_1d(grad)

    last_x = x0.astype(dtype)
    last_f, last_g = evaluate(last_x)  # scipy's ScalarFunction evaluates at x0 on construction
    nbd = np.zeros(n, np.int32)
    low_bnd = np.zeros(n, np.float64)
    upper_bnd = np.zeros(n, np.float64)
    x = np.array(x0, dtype=np.float64)
    f: float | np.ndarray = np.array(0.0, dtype=np.float64)
    g = np.zeros((n,), dtype=np.float64)
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m, np.float64)
    iwa = np.zeros(3 * n, dtype=np.int32)
    task = np.zeros(2, dtype=np.int32)
    ln_task = np.zeros(2, dtype=np.int32)
    lsave = np.zeros(4, dtype=np.int32)
    isave = np.zeros(44, dtype=np.int32)
    dsave = np.zeros(29, dtype=np.float64)
    n_iterations = 0
    while True:
        g = g.astype(np.float64)
        setulb(m, x, low_bnd, upper_bnd, nbd, f, g, factr, gtol, wa, iwa, task, lsave, isave, dsave, maxls, ln_task)
        if task[0] == 3:  # the routine wants f and g at x
            if not np.array_equal(x, last_x):
                last_x = x.astype(dtype)
                last_f, last_g = evaluate(x)
            f, g = last_f, last_g
        elif task[0] == 1:  # a new iteration
            n_iterations += 1
            if n_iterations >= maxiter:
                task[0], task[1] = 5, 504
            elif nfev > maxfun:
                task[0], task[1] = 5, 502
        else:
            break
    return LbfgsbResult(x, float(f), n_iterations, nfev)
