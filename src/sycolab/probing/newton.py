"""Batched Newton fits of L2-regularised logistic regression: many small problems solved together.

Each problem k minimises scikit-learn's `LogisticRegression(C, solver="lbfgs")` objective on its own
(already standardised) features z [n_k, d],
    f_k(w, b) = (1/n_k) sum_i [log(1 + exp(m_i)) - y_i m_i] + ||w||^2 / (2 C n_k),   m_i = w . z_i + b,
the intercept b unpenalised. f_k is strictly convex, so its minimum is unique and any convergent method
finds the same point; Newton's method with a backtracking (Armijo) line search reaches it to a gradient of
`GRADIENT_TOL` in a handful of steps (scikit-learn's L-BFGS stops at a gradient of 1e-4). The problems are
padded to one [B, n_max, d + 1] array (padded rows weigh 0) so each step is a few batched matrix products
and one Cholesky solve per problem; every problem keeps its own step length and stops on its own gradient, so its
iterates do not depend on the other problems of its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit

GRADIENT_TOL = 1e-9  # max |gradient| of the mean loss at which a problem stops
_ARMIJO = 1e-4  # sufficient decrease of the line search
_MAX_HALVINGS = 40


@dataclass(frozen=True)
class NewtonFit:
    coef: np.ndarray  # [d]
    intercept: float
    n_iter: int


def newton_logistic(
    zs: Sequence[np.ndarray], ys: Sequence[np.ndarray], c: float, max_iter: int, start: np.ndarray | None = None
) -> list[NewtonFit]:
    """The minimiser of each problem's objective (module docstring); all z of one width d, float64 inside.
    `start` [B, d + 1] (coefficients, then intercept) is where each problem's steps begin (default 0): a
    nearby start saves steps, never changes the minimiser."""
    if not zs:
        return []
    width = {np.shape(z)[1] for z in zs}
    if len(width) != 1:
        raise ValueError(f"one batch needs one feature width, got {sorted(width)}")
    d = width.pop()
    batch, n_max = len(zs), max(np.shape(z)[0] for z in zs)
    design = np.zeros((batch, n_max, d + 1))
    target = np.zeros((batch, n_max))
    weight = np.zeros((batch, n_max))  # 1/n_k on a problem's rows, 0 on padding
    sizes = [np.shape(z)[0] for z in zs]
    counts = np.array(sizes, dtype=np.float64)
    diagonal = np.arange(d + 1)
    for k, (z, y) in enumerate(zip(zs, ys, strict=True)):
        n = np.shape(z)[0]
        design[k, :n, :d], design[k, :n, d] = z, 1.0
        target[k, :n], weight[k, :n] = np.asarray(y, dtype=np.float64), 1.0 / n
    ridge = np.outer(1.0 / (c * counts), np.r_[np.ones(d), 0.0])  # [B, d+1]: 1/(C n_k), 0 for b
    params = np.zeros((batch, d + 1)) if start is None else np.array(start, dtype=np.float64)
    n_iter = np.zeros(batch, dtype=np.int64)
    active = np.ones(batch, dtype=bool)

    def loss_at(margin: np.ndarray, p: np.ndarray, rows: np.ndarray) -> np.ndarray:
        loss = weight[rows] * (np.logaddexp(0.0, margin) - target[rows] * margin)
        return loss.sum(1) + 0.5 * (ridge[rows] * p * p).sum(1)

    def objective(p: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return loss_at(np.matmul(design[rows], p[:, :, None])[:, :, 0], p, rows)

    for _ in range(max_iter):
        rows = np.flatnonzero(active)
        x, p = design[rows], params[rows]
        margin = np.matmul(x, p[:, :, None])[:, :, 0]
        prob = expit(margin)
        loss = loss_at(margin, p, rows)
        grad = np.matmul((weight[rows] * (prob - target[rows]))[:, None, :], x)[:, 0, :] + ridge[rows] * p
        done = np.abs(grad).max(1) <= GRADIENT_TOL
        active[rows[done]] = False
        keep = ~done
        if not keep.any():
            break
        rows, x, p, grad = rows[keep], x[keep], p[keep], grad[keep]
        curvature = np.sqrt(weight[rows] * prob[keep] * (1.0 - prob[keep]))
        step = np.empty_like(grad)
        for j, k in enumerate(rows):  # one problem at a time: a.T @ a is one symmetric BLAS product (syrk)
            scaled = x[j, : sizes[k]] * curvature[j, : sizes[k], None]
            hessian = scaled.T @ scaled
            hessian[diagonal, diagonal] += ridge[k]
            step[j] = cho_solve(cho_factor(hessian, check_finite=False), grad[j], check_finite=False)
        decrease = (grad * step).sum(1)  # > 0: the Hessian is positive definite
        current = loss[keep]
        length = np.ones(rows.size)
        pending = np.ones(rows.size, dtype=bool)
        for _ in range(_MAX_HALVINGS):
            trial = p[pending] - length[pending, None] * step[pending]
            ok = objective(trial, rows[pending]) <= current[pending] - _ARMIJO * length[pending] * decrease[pending]
            index = np.flatnonzero(pending)
            params[rows[index[ok]]] = trial[ok]
            pending[index[ok]] = False
            if not pending.any():
                break
            length[pending] *= 0.5
        n_iter[rows] += 1
        active[rows[pending]] = False  # no decrease left at machine precision: at the minimum
    return [NewtonFit(params[k, :d].copy(), float(params[k, d]), int(n_iter[k])) for k in range(batch)]
