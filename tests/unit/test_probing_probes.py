"""Probes, nulls, transfer, geometry and ablation on synthetic Gaussian activations."""

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from sycolab.errors import UserError
from sycolab.probing.ablation import ablation_curve, project_out, recovery_pct
from sycolab.probing.analysis import ModelActivations, analyse
from sycolab.probing.config import ProbeConfig
from sycolab.probing.geometry import cosine_matrix, cosine_rows
from sycolab.probing.logistic import fit_probe, make_probe, probe_scores
from sycolab.probing.probes import (
    LayerResult,
    class_counts,
    fold_ids,
    grouped_splits,
    probe_direction,
    question_folds,
    scan_layers,
    summarise,
    too_few_reason,
)
from sycolab.probing.transfer import (
    TransferRow,
    correct_across_targets,
    crossfit_scores,
    interpret,
    summarise_transfer,
    transfer_rows,
)

CFG = ProbeConfig(kinds=["logistic"], cv_folds=5, n_permutations=199)


def planted(n=400, d=20, strength=1.0, seed=0):
    """Labels, question groups (pairs of samples), a unit direction and x = noise + (+-strength) * u."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.5
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    x = rng.normal(size=(n, d)) + np.outer(np.where(y, strength, -strength), u)
    return x, y, np.arange(n) // 2, u


def test_planted_direction_is_found_and_shuffled_labels_are_chance():
    x, y, groups, u = planted()
    noise = np.random.default_rng(9).normal(size=x.shape)
    results = scan_layers({0: x, 1: noise}, [0, 1], y, groups, "logistic", CFG)
    signal, blank = results
    assert signal.auroc > 0.9
    assert 0.5 < signal.null_p95 < 0.6 < signal.auroc  # the null's 95th percentile: the noise floor
    assert signal.ci_low < signal.auroc < signal.ci_high and signal.p_value < 0.01
    assert abs(blank.auroc - 0.5) < 0.1
    shuffled = scan_layers({0: x}, [0], np.random.default_rng(1).permutation(y), groups, "logistic", CFG)[0]
    assert abs(shuffled.auroc - 0.5) < 0.1
    assert np.dot(probe_direction(signal.probe), u) > 0.9


def test_mlp_probe_finds_a_signal_the_logistic_probe_cannot():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 4))
    y = (x[:, 0] ** 2 + x[:, 1] ** 2) > 1.4  # a disc: no linear direction separates it
    groups = np.arange(400) // 2
    cfg = ProbeConfig(kinds=["logistic", "mlp"])
    linear = scan_layers({0: x}, [0], y, groups, "logistic", cfg)[0]
    mlp = scan_layers({0: x}, [0], y, groups, "mlp", cfg)[0]
    assert linear.auroc < 0.65
    assert mlp.auroc > 0.85
    assert mlp.probe is None  # only logistic fits are kept (transfer, geometry, ablation use them)


def test_fast_logistic_fit_is_scikit_learns_fit():
    x, y, _, _ = planted(n=300, d=12)
    x = (x * np.linspace(0.1, 20.0, 12) + 3.0).astype(np.float32)  # unequal scales and offsets: the scaler matters
    ours = fit_probe("logistic", x, y, CFG)
    reference = make_probe("logistic", CFG)
    reference[-1].set_params(tol=1e-12, max_iter=10_000)  # scikit-learn run to the optimum (its default stops at 1e-4)
    reference.fit(x.astype(np.float64), y)
    np.testing.assert_allclose(ours[-1].coef_, reference[-1].coef_, atol=1e-5)
    np.testing.assert_allclose(ours[-1].intercept_, reference[-1].intercept_, atol=1e-5)
    np.testing.assert_allclose(probe_scores(ours, x), probe_scores(reference, x), atol=1e-4)
    assert list(ours.predict(x[:5])) == list(reference.predict(x[:5]))
    default = make_probe("logistic", CFG).fit(x, y)  # scikit-learn's default stopping lands near the same point
    np.testing.assert_allclose(ours[-1].coef_, default[-1].coef_, atol=1e-3)


def test_scaler_statistics_and_scores_are_scikit_learns_floats():
    x, y, _, _ = planted(n=150, d=12)
    x = (x * np.linspace(0.1, 20.0, 12) + 3.0).astype(np.float32)
    x[:, 4] = 7.0  # a constant feature: unit scale, as StandardScaler gives it
    ours = fit_probe("logistic", x, y, CFG)
    scaler = StandardScaler().fit(x)
    for name in ("mean_", "var_", "scale_"):
        assert np.array_equal(getattr(ours[0], name), getattr(scaler, name)), name
    assert ours[0].scale_[4] == 1.0
    assert np.array_equal(probe_scores(ours, x), ours.decision_function(x))


def test_probe_direction_is_the_score_in_raw_space():
    x, y, _, _ = planted(d=6)
    x = x * np.array([1.0, 10.0, 0.1, 3.0, 1.0, 50.0])  # very different feature scales
    probe = fit_probe("logistic", x, y, CFG)
    scores = probe_scores(probe, x)
    projection = x @ probe_direction(probe)
    slope, intercept = np.polyfit(projection, scores, 1)
    np.testing.assert_allclose(scores, slope * projection + intercept, rtol=1e-4, atol=1e-4)
    assert slope > 0


def test_grouped_folds_never_split_a_question():
    _, y, groups, _ = planted(n=120)
    splits = grouped_splits(y, groups, 5, seed=0)
    assert len(splits) == 5
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    assert sorted(np.concatenate([test for _, test in splits]).tolist()) == list(range(120))
    assert len(grouped_splits(y[:6], groups[:6], 5, seed=0)) == 3  # only 3 questions -> 3 folds
    with pytest.raises(UserError):
        grouped_splits(y[:2], groups[:2], 5, seed=0)


def test_too_few_per_class_gives_a_reason():
    y = np.array([True] * 3 + [False] * 20)
    counts = class_counts(y)
    assert (counts.n, counts.n_sycophantic, counts.n_honest) == (23, 3, 20)
    reason = too_few_reason(counts, np.arange(23), min_per_class=5)
    assert "3 sycophantic" in reason and "min_per_class=5" in reason
    assert too_few_reason(counts, np.arange(23), min_per_class=3) is None
    assert "base questions" in too_few_reason(counts, np.zeros(23), min_per_class=3)


def test_summary_by_hand():
    rows = [
        LayerResult(0, "logistic", 0.80, 0.52, 0.74, 0.86),
        LayerResult(1, "logistic", 0.90, 0.60, 0.85, 0.95),
        LayerResult(2, "logistic", 0.90, 0.92, 0.84, 0.96),
        LayerResult(3, "logistic", 0.50, 0.54, 0.40, 0.60),
    ]
    s = summarise(rows)
    assert s.peak_layer == 1  # tie at 0.90: the earliest layer
    assert (s.peak_auroc, s.peak_ci_low, s.peak_ci_high) == pytest.approx((0.90, 0.85, 0.95))
    assert s.peak_set == [0, 1, 2]  # 0.86 >= 0.85 overlaps; layer 3's 0.60 does not
    assert s.mean_auroc == pytest.approx(0.775)
    assert s.layers_above_chance == [0, 1]  # above the null's 95th percentile: 0.80 > 0.52, 0.90 > 0.60, 0.90 < 0.92
    assert s.noise_floor == pytest.approx(0.645)


def test_interpretation_thresholds():
    assert interpret(0.75, 0.01) == "preserved"
    assert interpret(0.70, 0.049) == "preserved"
    assert interpret(0.75, 0.20) == "borderline"
    assert interpret(0.65, 0.50) == "borderline"
    assert interpret(0.55, 0.01) == "borderline"
    assert interpret(0.55, 0.50) == "gone"
    assert interpret(float("nan"), float("nan")) == "gone"


def test_transfer_reads_a_shared_direction_and_not_noise():
    x_a, y_a, groups, u = planted(n=300, seed=0)
    fold_of = question_folds(groups, 5, 0)
    folds = fold_ids(groups, fold_of)
    fold_probes = {3: {f: fit_probe("logistic", x_a[folds != f], y_a[folds != f], CFG) for f in range(5)}}
    rng = np.random.default_rng(5)
    y_b = rng.random(300) < 0.5
    x_b = rng.normal(size=(300, 20)) + np.outer(np.where(y_b, 1.0, -1.0), u)
    x_c = rng.normal(size=(300, 20))
    rows = transfer_rows("sft", "dpo", *crossfit_scores(fold_probes, {3: x_b}, folds), y_b, groups, 199, rng)
    rows += transfer_rows("sft", "grpo", *crossfit_scores(fold_probes, {3: x_c}, folds), y_b, groups, 199, rng)
    assert rows[0].auroc > 0.85 and rows[0].p_value == pytest.approx(1 / 200) == rows[0].p_layers
    assert abs(rows[1].auroc - 0.5) < 0.1 and rows[1].p_value > 0.01
    correct_across_targets(rows, 199)
    assert rows[0].p_holm == pytest.approx(2 / 200) and rows[0].p_floor == pytest.approx(2 / 200)
    summaries = {s.target: s.interpretation for s in summarise_transfer(rows)}
    assert summaries == {"dpo": "preserved", "grpo": "gone"}


def test_holm_runs_over_targets_with_each_layer_in_its_targets_place():
    rows = [
        TransferRow("sft", t, layer, 0.6, p_layers=p)
        for t, layer, p in [("a", 0, 0.01), ("a", 1, 0.04), ("b", 0, 0.03), ("c", 0, 0.5)]
    ]
    correct_across_targets(rows, 999)
    # target minima a 0.01, b 0.03, c 0.5. Holm over 3: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.5*1 = 0.5
    # a's layer 1 in a's place: 0.04, 0.03, 0.5 -> sorted 0.03*3 = 0.09 (b), 0.04*2 = 0.08 -> max 0.09
    assert [r.p_holm for r in rows] == pytest.approx([0.03, 0.09, 0.06, 0.5])
    assert all(r.p_floor == pytest.approx(3 / 1000) for r in rows)


def test_cosine_matrix_by_hand():
    mat = cosine_matrix({"a": np.array([1.0, 0.0]), "b": np.array([1.0, 1.0]), "c": np.array([0.0, -2.0])})
    s = 1 / np.sqrt(2)
    np.testing.assert_allclose(mat, [[1, s, 0], [s, 1, -s], [0, -s, 1]], atol=1e-12)
    rows = cosine_rows({0: {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 3.0])}, 1: {"a": np.array([2.0, 2.0])}})
    assert [(r.layer, r.model_a, r.model_b, round(r.cosine, 6)) for r in rows] == [
        (0, "a", "a", 1.0),
        (0, "a", "b", 0.0),
        (0, "b", "a", 0.0),
        (0, "b", "b", 1.0),
        (1, "a", "a", 1.0),
    ]


def test_recovery_by_hand_and_projection():
    assert recovery_pct(0.9, 0.7) == pytest.approx(50.0)
    assert recovery_pct(0.9, 0.5) == pytest.approx(0.0)
    assert recovery_pct(0.5, 0.6) is None
    basis = np.array([[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(project_out(np.array([[3.0, 4.0, 5.0]]), basis), [[0.0, 4.0, 5.0]])


def test_ablating_a_single_planted_direction_drops_to_chance():
    # what is left after k=1 is the probe's estimation error: at n=1000, d=4 about 0.53
    x, y, groups, _ = planted(n=1000, d=4, strength=1.0, seed=2)
    steps = ablation_curve(x, y, grouped_splits(y, groups, 5, 0), CFG, k_max=2)
    assert steps[0].original_auroc > 0.9
    assert abs(steps[0].ablated_auroc - 0.5) < 0.07
    assert abs(steps[1].ablated_auroc - 0.5) < 0.05
    assert steps[0].recovery_pct < 20


def test_a_signal_spread_over_many_directions_recovers():
    # the class means differ along all 16 axes, the noise is anisotropic: the probe's top direction
    # (about Sigma^-1 mu) leaves much of the mean difference mu behind, and a retrained probe finds it
    rng = np.random.default_rng(6)
    n, d = 600, 16
    y = rng.random(n) < 0.5
    x = rng.normal(size=(n, d)) * np.linspace(0.3, 3.0, d) + np.outer(np.where(y, 0.5, -0.5), np.ones(d))
    steps = ablation_curve(x, y, grouped_splits(y, np.arange(n) // 2, 5, 0), CFG, k_max=2)
    assert steps[0].original_auroc > 0.95
    assert steps[0].recovery_pct > 60
    assert steps[1].ablated_auroc < steps[0].ablated_auroc  # each removed direction takes some signal


def test_analyse_ties_it_together():
    x_a, y_a, g_a, _ = planted(n=300, seed=0)
    x_b, y_b, g_b, _ = planted(n=300, seed=1)
    x_b = x_b - np.outer(x_b @ _unit(x_b, y_b), _unit(x_b, y_b))  # b: its own signal removed
    models = {
        "sft": ModelActivations("sft", y_a, g_a, [0, 1], {0: x_a, 1: x_a[:, ::-1].copy()}.__getitem__),
        "dpo": ModelActivations("dpo", y_b, g_b, [0, 1], {0: x_b, 1: x_b}.__getitem__),
    }
    results = analyse(models, CFG.model_copy(update={"ablation_k": 2}))
    assert results.summaries["sft"]["logistic"].peak_auroc > 0.85
    assert results.summaries["dpo"]["logistic"].peak_auroc < 0.65
    assert [(r.target, r.layer) for r in results.transfer] == [("dpo", 0), ("dpo", 1)]
    assert all(np.isfinite(r.ci_low) and r.p_floor == pytest.approx(1 / 200) for r in results.transfer)
    assert results.transfer_summary[0].interpretation == "gone"
    assert len(results.cosine) == 2 * 4
    assert {(r.model_a, r.model_b): r.n_layers for r in results.cosine_mean}[("sft", "dpo")] == 2
    layer, steps = results.ablation["sft"]
    assert layer in (0, 1) and [s.k for s in steps] == [1, 2]


def _unit(x, y):
    diff = x[y].mean(0) - x[~y].mean(0)
    return diff / np.linalg.norm(diff)
