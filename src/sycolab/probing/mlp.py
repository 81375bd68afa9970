"""The MLP probe: a one-hidden-layer ReLU network, fit for every layer and fold of a model at once.

Per (layer, fold): features standardised with the training part's mean and scale (as `StandardScaler`),
then `sigmoid(w1 . relu(W0' z + c0) + c1)` minimising scikit-learn's `MLPClassifier` objective
    (1/n) sum_i log-loss_i + alpha ||W||^2 / (2 n),   alpha 1e-2, W = both weight matrices, n = training rows,
from scikit-learn's Glorot-uniform initialisation (bound sqrt(6 / (fan_in + fan_out)) for the ReLU layer,
sqrt(2 / (fan_in + fan_out)) for the logistic output, biases drawn with the same bound), one draw seeded by
`ProbeConfig.seed` shared by every fit, as `MLPClassifier(random_state=seed)` does.

The optimiser is full-batch Adam (lr `ProbeConfig.mlp_lr`, betas 0.9/0.999) for exactly `ProbeConfig.mlp_steps`
steps: no convergence test, so the result depends on nothing but the inputs. Adam's update is per coordinate
and the summed loss separates over problems, so fitting all layers and folds in one batch gives each problem
the fit it would get alone; the batch makes the few hundred fits of a study a few thousand batched matrix
products instead of a few hundred thousand small ones (the previous L-BFGS fits, one at a time, were half of
the probe stage). The MLP is a nonlinear check on the logistic probe; an iterative non-convex fit has no
unique optimum, and this one is defined by its fixed schedule. float32, one torch thread (the same floats
whatever the process's thread count); the gradient is written out (`_gradients`, autograd's floats without
its graph, about 15% faster).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch

Split = tuple[np.ndarray, np.ndarray]

ALPHA = 1e-2  # L2 strength, MLPClassifier's alpha
BETAS = (0.9, 0.999)
EPS = 1e-8


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _adam_step(
    params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], moments: Sequence[tuple[torch.Tensor, torch.Tensor]],
    step: int, lr: float,
) -> None:
    """One Adam update (Kingma & Ba 2015, as `torch.optim.Adam` computes it), in place."""
    first_fix, second_fix = 1 - BETAS[0] ** step, (1 - BETAS[1] ** step) ** 0.5
    for param, grad, (mean, square) in zip(params, grads, moments, strict=True):
        mean.mul_(BETAS[0]).add_(grad, alpha=1 - BETAS[0])
        square.mul_(BETAS[1]).addcmul_(grad, grad, value=1 - BETAS[1])
        param.addcdiv_(mean, (square.sqrt() / second_fix).add_(EPS), value=-lr / first_fix)


def _gradients(
    params: Sequence[torch.Tensor], z: torch.Tensor, z_t: torch.Tensor, t: torch.Tensor, w: torch.Tensor,
    ridge: torch.Tensor,
) -> tuple[torch.Tensor, ...]:
    """The gradient of the batched objective (module docstring; loss rows weighted by `w`, `ridge` = alpha/(2n)
    per problem) in the parameters (W0, c0, w1, c1), by backpropagation written out: the same floats as
    `torch.autograd` on that loss, without its graph (test_probing_mlp)."""
    w0, c0, w1, c1 = params
    pre = torch.baddbmm(c0, z, w0)
    act = torch.relu(pre)
    residual = ((torch.sigmoid(act.bmm(w1) + c1).squeeze(-1) - t) * w).unsqueeze(-1)  # d loss / d logit
    back = residual.bmm(w1.transpose(1, 2)) * (pre > 0)
    decay = (2 * ridge)[:, None, None]
    return (torch.bmm(z_t, back) + decay * w0, back.sum(1, keepdim=True),
            act.transpose(1, 2).bmm(residual) + decay * w1, residual.sum(1, keepdim=True))


def _glorot(generator: torch.Generator, shape: tuple[int, ...], bound: float) -> torch.Tensor:
    return (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound


def mlp_out_of_fold(
    xs: Sequence[np.ndarray], labels: np.ndarray, splits: Sequence[Split], *, hidden: int, steps: int, lr: float,
    seed: int,
) -> np.ndarray:
    """[len(xs), n] out-of-fold P(sycophantic) of an MLP probe fit on each split's training part of each
    `xs[k]` ([n, d], the same samples). A split whose training part lacks a class leaves its test rows nan."""
    y = np.asarray(labels, dtype=bool)
    scores = np.full((len(xs), y.size), np.nan)
    usable = [(train, test) for train, test in splits if len(np.unique(y[train])) == 2]
    if not xs or not usable:
        return scores
    with _one_torch_thread(), torch.no_grad():
        test_scores = _fit_and_score(xs, y, usable, hidden, steps, lr, seed)
    for k in range(len(xs)):
        for f, (_, test) in enumerate(usable):
            scores[k, test] = test_scores[k * len(usable) + f][: test.size]
    return scores


def _standardised(x: np.ndarray, train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training and test rows scaled by the training rows' mean and standard deviation (zero scale -> 1)."""
    part = np.asarray(x[train], dtype=np.float64)
    mean, scale = part.mean(0), part.std(0)
    scale[scale == 0] = 1.0
    return (part - mean) / scale, (np.asarray(x[test], dtype=np.float64) - mean) / scale


def _fit_and_score(
    xs: Sequence[np.ndarray], y: np.ndarray, splits: Sequence[Split], hidden: int, steps: int, lr: float, seed: int
) -> np.ndarray:
    """Fit problem p = (layer k, split f) at index k * len(splits) + f; its test rows' probabilities,
    [P, max test size] (rows past a split's test size are padding)."""
    problems = [(x, train, test) for x in xs for train, test in splits]
    d = xs[0].shape[1]
    n_train, n_test = max(tr.size for _, tr, _ in problems), max(te.size for _, _, te in problems)
    x_train = np.zeros((len(problems), n_train, d))
    x_test = np.zeros((len(problems), n_test, d))
    target, weight = np.zeros((len(problems), n_train)), np.zeros((len(problems), n_train))
    for p, (x, train, test) in enumerate(problems):
        x_train[p, : train.size], x_test[p, : test.size] = _standardised(x, train, test)
        target[p, : train.size], weight[p, : train.size] = y[train], 1.0 / train.size
    z, z_test = torch.from_numpy(x_train).float(), torch.from_numpy(x_test).float()
    t, w = torch.from_numpy(target).float(), torch.from_numpy(weight).float()
    ridge = torch.from_numpy(0.5 * ALPHA * weight[:, 0]).float()  # alpha / (2 n) per problem

    generator = torch.Generator().manual_seed(seed)
    hidden_bound, out_bound = (6 / (d + hidden)) ** 0.5, (2 / (hidden + 1)) ** 0.5
    init = [
        _glorot(generator, (d, hidden), hidden_bound), _glorot(generator, (1, hidden), hidden_bound),
        _glorot(generator, (hidden, 1), out_bound), _glorot(generator, (1, 1), out_bound),
    ]  # MLPClassifier's order: weights then bias, layer by layer
    params = [v.float().expand(len(problems), *v.shape).clone() for v in init]
    w0, c0, w1, c1 = params
    moments = [(torch.zeros_like(v), torch.zeros_like(v)) for v in params]
    z_t = z.transpose(1, 2).contiguous()
    for step in range(1, steps + 1):
        _adam_step(params, _gradients(params, z, z_t, t, w, ridge), moments, step, lr)
    with torch.no_grad():
        return torch.sigmoid(torch.relu(torch.baddbmm(c0, z_test, w0)).bmm(w1) + c1).squeeze(-1).double().numpy()
