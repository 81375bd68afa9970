"""Batched Newton fits of the logistic probe against a solution by hand and scikit-learn's own fit."""

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from sycolab.probing.config import ProbeConfig
from sycolab.probing.logistic import fit_logistic_batch
from sycolab.probing.newton import newton_logistic


def test_symmetric_separable_problem_by_hand():
    # z = -1 (honest) and +1 (sycophantic), two each: b = 0 by symmetry, and each point's gradient term is
    # sigma(w) - 1, so the optimum solves w / (C n) = 1 - sigma(w); with C = 1, n = 4: w ~ 1.0426.
    z, y = np.array([[-1.0], [-1.0], [1.0], [1.0]]), np.array([0, 0, 1, 1])
    fit = newton_logistic([z], [y], c=1.0, max_iter=50)[0]
    assert abs(fit.intercept) < 1e-12
    assert abs(fit.coef[0] / 4 - (1 - expit(fit.coef[0]))) < 1e-10
    assert 1.04 < fit.coef[0] < 1.045 and fit.n_iter <= 10


def test_batched_fits_are_scikit_learns_optimum_and_independent_of_the_batch():
    rng = np.random.default_rng(3)
    problems = []
    for n, shift in ((40, 0.3), (75, 1.5), (120, 4.0)):  # weak signal, strong, and nearly separable
        y = rng.random(n) < 0.4
        z = rng.normal(size=(n, 6))
        z[:, 0] += np.where(y, shift, -shift)
        problems.append((z, y))
    c = 0.5
    fits = newton_logistic([z for z, _ in problems], [y for _, y in problems], c=c, max_iter=100)
    for (z, y), fit in zip(problems, fits, strict=True):
        reference = LogisticRegression(C=c, tol=1e-12, max_iter=10_000).fit(z, y)
        np.testing.assert_allclose(fit.coef, reference.coef_[0], atol=1e-6)
        assert abs(fit.intercept - reference.intercept_[0]) < 1e-6
        alone = newton_logistic([z], [y], c=c, max_iter=100)[0]
        np.testing.assert_allclose(alone.coef, fit.coef, atol=1e-12)


def test_fit_logistic_batch_standardises_each_problem_on_its_own():
    rng = np.random.default_rng(5)
    y = rng.random(90) < 0.5
    x = (rng.normal(size=(90, 4)) + np.outer(y, [2.0, 0, 0, 0])) * [1.0, 10.0, 0.1, 3.0] + 7.0
    wide, narrow = fit_logistic_batch([(x, y), (x[:50], y[:50])], ProbeConfig(logistic_c=2.0))
    assert not np.allclose(wide[0].mean_, narrow[0].mean_)
    for probe, rows in ((wide, slice(None)), (narrow, slice(0, 50))):
        z = (x[rows].astype(np.float32) - probe[0].mean_) / probe[0].scale_
        reference = LogisticRegression(C=2.0, tol=1e-12, max_iter=10_000).fit(z, y[rows])
        np.testing.assert_allclose(probe[-1].coef_, reference.coef_, atol=1e-5)
        assert list(probe.predict(x[rows][:10])) == list(reference.predict(z[:10]))


def test_a_start_from_a_nearby_fit_saves_steps_and_keeps_the_optimum():
    rng = np.random.default_rng(8)
    y = rng.random(200) < 0.5
    x = rng.normal(size=(200, 10)) * np.arange(1, 11) + np.outer(y, np.linspace(2.0, 0.0, 10)) + 3.0
    cfg = ProbeConfig()
    full = fit_logistic_batch([(x, y)], cfg)[0]
    fold = (x[40:], y[40:])
    cold, warm = fit_logistic_batch([fold], cfg)[0], fit_logistic_batch([fold], cfg, starts=[full])[0]
    np.testing.assert_allclose(warm[-1].coef_, cold[-1].coef_, atol=1e-8)
    np.testing.assert_allclose(warm[-1].intercept_, cold[-1].intercept_, atol=1e-8)
    assert warm[-1].n_iter_[0] < cold[-1].n_iter_[0]
