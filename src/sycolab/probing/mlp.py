"""The MLP probe's classifier: scikit-learn's `MLPClassifier` (lbfgs), fitted through `minimize_lbfgsb`.

Everything but the optimiser call is scikit-learn's: validation, the seeded Glorot initialisation, the
loss and its gradient (`_loss_grad_lbfgs`: log-loss + alpha/2 ||W||^2 / n), prediction. Only
`scipy.optimize.minimize` is replaced by `sycolab.probing.lbfgsb.minimize_lbfgsb`, which runs the same
L-BFGS-B routine with the same options (scikit-learn's `max_iter`, `max_fun`, `tol` as gtol) and visits the
same points, so the fitted weights equal `MLPClassifier`'s bit for bit (`tests/unit/test_probing_lbfgsb.py`)
at under half the time: the probe stage fits a few hundred of these.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy import sparse
from scipy.special import expit, xlogy
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sycolab.probing.lbfgsb import minimize_lbfgsb


class LbfgsbMLPClassifier(MLPClassifier):
    """`MLPClassifier` whose lbfgs solver runs through `minimize_lbfgsb` (module docstring)."""

    def _fit_lbfgs(self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads, layer_units):
        # Parameter layout as scikit-learn's _fit_lbfgs: coefficients first, then intercepts.
        self._coef_indptr, self._intercept_indptr = [], []
        start = 0
        for i in range(self.n_layers_ - 1):
            end = start + layer_units[i] * layer_units[i + 1]
            self._coef_indptr.append((start, end, (layer_units[i], layer_units[i + 1])))
            start = end
        for i in range(self.n_layers_ - 1):
            end = start + layer_units[i + 1]
            self._intercept_indptr.append((start, end))
            start = end
        packed = np.hstack([layer.ravel() for layer in self.coefs_ + self.intercepts_])

        def loss_and_grad(params: np.ndarray) -> tuple[float, np.ndarray]:
            return self._loss_grad_lbfgs(params, X, y, sample_weight, activations, deltas, coef_grads,
                                         intercept_grads)

        if (self.n_layers_ == 3 and self.activation == "relu" and self.out_activation_ == "logistic"
                and sample_weight is None and not sparse.issparse(X)):
            loss_and_grad = self._one_hidden_layer_loss(X, y)

        fit = minimize_lbfgsb(loss_and_grad, packed, maxiter=self.max_iter, maxfun=self.max_fun, gtol=self.tol)
        self.n_iter_ = min(fit.nit, self.max_iter)
        if fit.nit >= self.max_iter or fit.nfev > self.max_fun:
            warnings.warn(f"lbfgs stopped at its iteration cap ({self.max_iter})", ConvergenceWarning, stacklevel=2)
        self.loss_ = fit.fun
        self._unpack(fit.x)

    def _one_hidden_layer_loss(self, X, y) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
        """scikit-learn's `_loss_grad_lbfgs` for one ReLU hidden layer and a logistic output, written out:
        the same numpy operations in the same order (so the same floats), without its per-call overhead
        (unpacking into attributes, activation and loss look-ups, sparse checks)."""
        (s0, e0, shape0), (s1, e1, shape1) = self._coef_indptr
        (t0, f0), (t1, f1) = self._intercept_indptr
        n, alpha, not_y = X.shape[0], self.alpha, 1 - y

        def loss_and_grad(params: np.ndarray) -> tuple[float, np.ndarray]:
            w0, w1 = np.reshape(params[s0:e0], shape0), np.reshape(params[s1:e1], shape1)
            hidden = X @ w0
            hidden += params[t0:f0]
            np.maximum(hidden, 0, out=hidden)
            out = hidden @ w1
            out += params[t1:f1]
            expit(out, out=out)
            eps = np.finfo(out.dtype).eps  # binary_log_loss
            prob = np.clip(out, eps, 1 - eps)
            loss = -np.average(xlogy(y, prob) + xlogy(not_y, 1 - prob), axis=0).sum()
            values = 0
            for w in (w0, w1):
                flat = w.ravel()
                values += np.dot(flat, flat)
            loss += (0.5 * alpha) * values / n
            delta_out = out - y
            grad_w1 = hidden.T @ delta_out
            grad_w1 += alpha * w1
            grad_w1 /= n
            grad_b1 = np.sum(delta_out, axis=0) / n
            delta_hidden = delta_out @ w1.T
            delta_hidden[hidden == 0] = 0
            grad_w0 = X.T @ delta_hidden
            grad_w0 += alpha * w0
            grad_w0 /= n
            grad_b0 = np.sum(delta_hidden, axis=0) / n
            return loss, np.hstack([grad_w0.ravel(), grad_w1.ravel(), grad_b0.ravel(), grad_b1.ravel()])

        return loss_and_grad
