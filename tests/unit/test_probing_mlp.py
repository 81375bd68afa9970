"""The batched MLP probe: each (layer, fold) fit is the fit it would get alone, the same at any thread count."""

import numpy as np
import torch

from sycolab.probing.mlp import ALPHA, _gradients, mlp_out_of_fold
from sycolab.probing.probes import grouped_splits, pooled_auroc

SETTINGS = dict(hidden=8, steps=60, lr=0.02, seed=0)


def _data(n: int = 120, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, 0] ** 2 + x[:, 1] ** 2) > 1.4  # a disc: no linear direction separates it
    return x, y, np.arange(n) // 2


def test_each_layer_gets_the_fit_it_would_get_alone():
    x, y, groups = _data()
    other = np.random.default_rng(5).normal(size=x.shape).astype(np.float32)
    splits = grouped_splits(y, groups, 4, 0)
    together = mlp_out_of_fold([x, other], y, splits, **SETTINGS)
    alone = mlp_out_of_fold([x], y, splits, **SETTINGS)
    np.testing.assert_allclose(together[0], alone[0], rtol=0, atol=1e-6)
    assert pooled_auroc(alone[0], y) > 0.8  # the disc is found out of fold
    assert 0.3 < pooled_auroc(together[1], y) < 0.7  # noise is not


def test_scores_do_not_depend_on_the_thread_count_and_leave_it_as_it_was():
    x, y, groups = _data()
    splits = grouped_splits(y, groups, 4, 0)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = mlp_out_of_fold([x], y, splits, **SETTINGS)
        torch.set_num_threads(2)
        two = mlp_out_of_fold([x], y, splits, **SETTINGS)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one, two)


def test_a_fold_without_both_classes_leaves_its_rows_unscored():
    x, y, groups = _data(n=40)
    y = y.copy()
    train = np.arange(20, 40)
    y[train] = False  # the split that trains on rows 20..39 sees one class
    splits = [(train, np.arange(20)), (np.arange(20), train)]
    if len(np.unique(y[:20])) < 2:
        y[0], y[1] = True, False
    scores = mlp_out_of_fold([x], y, splits, **SETTINGS)[0]
    assert np.isnan(scores[:20]).all()
    assert np.isfinite(scores[20:]).all() and ((scores[20:] > 0) & (scores[20:] < 1)).all()


def test_gradients_by_hand_are_autograds():
    gen = torch.Generator().manual_seed(2)
    problems, n, d, hidden = 3, 7, 5, 4
    z = torch.randn(problems, n, d, generator=gen)
    t = (torch.rand(problems, n, generator=gen) < 0.5).float()
    w = torch.full((problems, n), 1.0 / n)
    w[2, 5:] = 0.0  # padded rows weigh nothing
    ridge = torch.full((problems,), 0.5 * ALPHA / n)
    params = [torch.randn(problems, *shape, generator=gen) for shape in ((d, hidden), (1, hidden), (hidden, 1), (1, 1))]
    ours = _gradients(params, z, z.transpose(1, 2).contiguous(), t, w, ridge)
    leaves = [p.clone().requires_grad_() for p in params]
    w0, c0, w1, c1 = leaves
    logit = (torch.relu(torch.baddbmm(c0, z, w0)).bmm(w1) + c1).squeeze(-1)
    loss = (torch.nn.functional.binary_cross_entropy_with_logits(logit, t, reduction="none") * w).sum()
    loss = loss + (ridge * (w0.square().sum((1, 2)) + w1.square().sum((1, 2)))).sum()
    for mine, reference in zip(ours, torch.autograd.grad(loss, leaves), strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-6)
