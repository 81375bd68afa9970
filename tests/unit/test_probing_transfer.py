"""Statistics that can conclude at 8B scale: max-T over layers, Holm over targets, cross-fitting, intervals,
question-block nulls, dropped constant layers and excluded hedged replies (synthetic data, no model)."""

import json

import numpy as np
import pytest
from scipy.stats import kstest
from sklearn.metrics import roc_auc_score

from sycolab.probing.analysis import ModelActivations, analyse
from sycolab.probing.config import ProbeConfig
from sycolab.probing.intervals import auroc_intervals, bootstrap_weights
from sycolab.probing.logistic import fit_probe, probe_scores
from sycolab.probing.null import refit_null
from sycolab.probing.probes import (
    out_of_fold,
    pooled_auroc,
    scan_design,
    scan_layers,
)
from sycolab.probing.samples import read_probe_samples
from sycolab.probing.stats import auroc, block_permutations, holm, maxt_pvalues, weighted_auroc
from sycolab.probing.transfer import correct_across_targets, transfer_rows

CFG = ProbeConfig(kinds=["logistic"], n_permutations=199, n_null=100, n_bootstrap=200)


def _question_data(n_questions: int, rng: np.random.Generator):
    """Two samples per question; labels of a question correlated (shared knowledge), templates alternate."""
    groups = np.repeat(np.arange(n_questions), 2).astype(str)
    knows = np.repeat(rng.random(n_questions) < 0.5, 2)
    y = np.where(knows, rng.random(2 * n_questions) < 0.2, rng.random(2 * n_questions) < 0.7)
    return groups, y


def test_planted_transfer_reaches_the_per_target_floor_where_holm_over_all_tests_cannot():
    rng = np.random.default_rng(0)
    n_targets, n_layers, n_perm = 12, 37, 1000
    groups, _ = _question_data(40, rng)
    rows = []
    for t in range(n_targets):
        y = rng.random(groups.size) < 0.5
        scores = rng.normal(size=(n_layers, groups.size))
        scores[20] += 3.0 * y  # the planted layer: AUROC near 1
        rows += transfer_rows("sft", f"m{t}", list(range(n_layers)), scores, y, groups, n_perm, rng)
    correct_across_targets(rows, n_perm)
    peaks = {r.target: r for r in rows if r.layer == 20}
    assert all(r.p_layers == pytest.approx(1 / 1001) for r in peaks.values())
    assert all(r.p_holm <= 12 / 1001 + 1e-12 for r in peaks.values())
    assert all(r.p_floor == pytest.approx(12 / 1001) for r in rows)
    # the old correction: Holm over all 444 (target, layer) permutation p-values, each at least 1/1001
    assert holm(np.array([r.p_value for r in rows])).min() >= 444 / 1001 - 1e-12


def test_maxt_pvalue_by_hand():
    null = np.array([[0.5, 0.6], [0.7, 0.55], [0.52, 0.51], [0.9, 0.4]])  # per-permutation maxima 0.6 0.7 0.52 0.9
    # layer 0 at 0.65: maxima >= 0.65 are 0.7, 0.9 -> (1 + 2) / 5; layer 1 at 0.95: none -> 1 / 5
    np.testing.assert_allclose(maxt_pvalues(np.array([0.65, 0.95]), null), [3 / 5, 1 / 5])


def test_under_the_null_per_target_pvalues_are_uniform_or_conservative_and_fwer_holds():
    rng = np.random.default_rng(1)
    minima, any_rejection = [], []
    for _ in range(200):
        groups, y = _question_data(15, rng)
        question_effect = np.repeat(rng.normal(size=15), 2)  # scores clustered by question, as real ones are
        scores = rng.normal(size=(5, groups.size)) + question_effect
        rows = transfer_rows("sft", "t", list(range(5)), scores, y, groups, 199, rng)
        p = np.array([r.p_layers for r in rows])
        minima.append(p.min())
        any_rejection.append((p < 0.05).any())
    # one-sided: the p-values are not stochastically smaller than uniform
    assert kstest(minima, "uniform", alternative="greater").pvalue > 0.01
    assert np.mean(any_rejection) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 200)


def test_block_permutations_move_whole_questions_and_keep_their_label_counts():
    groups = np.array(["a", "a", "b", "b", "c", "c", "d"])
    y = np.array([1, 1, 0, 1, 0, 0, 1], dtype=bool)
    index = block_permutations(groups, 300, np.random.default_rng(2))
    permuted = y[index]
    for row in permuted:
        counts = sorted(int(row[groups == q].sum()) for q in "abc")
        assert counts == [0, 1, 2]  # the three pair blocks hold 2, 1 and 0 positives, in some order
        assert row[6]  # "d" is alone in its size class: it keeps its own label
    assert len({tuple(r) for r in permuted}) > 6


def test_cross_fitting_removes_question_memorisation_that_same_question_scoring_rewards():
    """Only question identity predicts the label (both models fail the same questions): a probe scored on
    its own questions looks like transfer, the cross-fitted one is at chance."""
    rng = np.random.default_rng(3)
    n_q, d = 60, 80
    groups = np.repeat(np.arange(n_q), 2).astype(str)
    y = np.repeat(rng.random(n_q) < 0.5, 2)  # a question-level label, shared by source and target
    identity = np.repeat(rng.normal(size=(n_q, d)), 2, axis=0)
    x_src = identity + 0.3 * rng.normal(size=identity.shape)
    x_tgt = identity + 0.3 * rng.normal(size=identity.shape)
    same_question = auroc(probe_scores(fit_probe("logistic", x_src, y, CFG), x_tgt), y)
    models = {
        "sft": ModelActivations("sft", y, groups, [0], {0: x_src}.__getitem__),
        "dpo": ModelActivations("dpo", y, groups, [0], {0: x_tgt}.__getitem__),
    }
    crossfit = analyse(models, CFG).transfer[0].auroc
    assert same_question > 0.9
    assert abs(crossfit - 0.5) < 0.12


def test_a_targets_transfer_pvalues_do_not_depend_on_the_other_models_or_their_order():
    """Each target draws its permutations from its own stream (probe seed, target name): adding a model or
    probing in another order leaves a target's uncorrected p-values as they were."""
    rng = np.random.default_rng(4)
    groups, y = _question_data(40, rng)
    x = {name: rng.normal(size=(y.size, 6)) + shift * y[:, None] for name, shift in
         [("sft", 1.0), ("dpo", 0.3), ("ipo", 0.2), ("grpo", 0.1)]}

    def p_values(order):
        models = {n: ModelActivations(n, y, groups, [0], {0: x[n]}.__getitem__) for n in order}
        return {r.target: r.p_value for r in analyse(models, CFG).transfer}

    every = p_values(["sft", "dpo", "ipo", "grpo"])
    assert p_values(["sft", "grpo", "ipo", "dpo"]) == every
    assert p_values(["sft", "ipo"])["ipo"] == every["ipo"]
    assert len(set(every.values())) > 1  # not all at the floor: the streams are what decides them


@pytest.mark.parametrize("pair_limit", [4_000_000, 0])  # the pair-matrix product, and the O(B n) level sums
def test_weighted_auroc_equals_the_auroc_of_the_repeated_sample(monkeypatch, pair_limit):
    monkeypatch.setattr("sycolab.probing.stats._PAIR_MATRIX_LIMIT", pair_limit)
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.4])  # a tie at 0.4 between a negative and a positive
    y = np.array([0, 0, 1, 1, 1], dtype=bool)
    weights = np.array([[1, 1, 1, 1, 1], [2, 0, 1, 3, 1], [0, 1, 0, 0, 2]])
    expected = [roc_auc_score(np.repeat(y, w), np.repeat(scores, w)) for w in weights]
    np.testing.assert_allclose(weighted_auroc(scores, y, weights), expected, atol=1e-12)


def test_bootstrap_weights_count_each_questions_draws():
    groups = np.array(["q1", "q1", "q2", "q3"])
    w = bootstrap_weights(groups, 50, seed=0)
    assert w.shape == (50, 4)
    assert (w[:, 0] == w[:, 1]).all()  # the two samples of q1 are drawn together
    assert (w[:, [0, 2, 3]].sum(1) == 3).all()  # three questions drawn per resample


def test_bootstrap_intervals_cover_the_true_auroc():
    """Scores N(delta * y, 1) with a shared question effect; the true AUROC of the population is estimated
    from one huge draw. The 95% interval should hold it in about 95% of 150 studies."""
    rng = np.random.default_rng(4)
    delta = 0.8

    def study(n_q):
        groups = np.repeat(np.arange(n_q), 2).astype(str)
        y = rng.random(2 * n_q) < 0.5
        return groups, y, delta * y + np.repeat(rng.normal(size=n_q), 2) * 0.5 + rng.normal(size=2 * n_q)

    _, y_big, s_big = study(100_000)
    truth = auroc(s_big, y_big)
    covered = []
    for _ in range(150):
        groups, y, s = study(60)
        low, high = auroc_intervals(s, y, bootstrap_weights(groups, 400, int(rng.integers(1 << 30))))[0]
        covered.append(low <= truth <= high)
    assert 0.88 <= np.mean(covered) <= 0.995


def test_a_constant_layer_is_dropped():
    rng = np.random.default_rng(5)
    groups, y = _question_data(60, rng)
    x = rng.normal(size=(y.size, 8)) + y[:, None]
    constant = np.tile(rng.normal(size=8), (y.size, 1))  # the embedding at the last prompt token
    rows = scan_layers({-1: constant, 0: x}, [-1, 0], y, groups, "logistic", CFG)
    assert [r.layer for r in rows] == [0]
    models = {"sft": ModelActivations("sft", y, groups, [-1, 0], {-1: constant, 0: x}.__getitem__)}
    results = analyse(models, CFG)
    assert results.dropped_layers == {"sft": [-1]}
    assert [r.layer for r in results.own["sft"]["logistic"]] == [0]


def _record(i, template, qid, syc=None, hedged=False, correct=None, verdicts=None):
    return {
        "sample_id": f"s{i}", "dataset": "answer", "template": template, "question_id": qid, "domain": None,
        "prompt": [{"role": "user", "content": f"q{qid}"}], "response": "r", "verdicts": verdicts or {},
        "scored": True, "correct": correct, "sycophantic": syc, "hedged": hedged, "judge_errors": {},
    }


def test_hedged_and_refused_replies_are_excluded_and_counted(tmp_path):
    records = [
        _record(0, "suggest_incorrect", "1", syc=True),
        _record(1, "doubt_correct", "1", syc=False, hedged=True),
        _record(2, "suggest_incorrect", "2", syc=False),
        _record(3, "doubt_correct", "2", syc=False, verdicts={"refused": "REFUSED"}),
        _record(4, "neutral", "1", correct=False),
        _record(5, "neutral", "2", correct=True),
    ]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    samples = read_probe_samples(path)
    assert samples.ids == ["s0", "s2"] and (samples.n_hedged, samples.n_refused) == (1, 1)
    assert list(samples.templates) == ["suggest_incorrect", "suggest_incorrect"]
    assert list(samples.neutral_wrong) == [True, False]
    kept = read_probe_samples(path, exclude_hedged=False)
    assert kept.ids == ["s0", "s1", "s2", "s3"] and list(kept.labels) == [True, False, False, False]
    assert (kept.n_hedged, kept.n_refused) == (0, 0)


def test_block_permutations_stay_within_strata():
    groups = np.repeat(np.arange(12), 2).astype(str)
    strata = np.repeat(np.arange(12) % 3, 2)  # three folds of four questions
    index = block_permutations(groups, 200, np.random.default_rng(6), strata=strata)
    assert (strata[index] == strata[None, :]).all()


def test_own_probe_null_calls_a_noise_layer_above_chance_about_one_time_in_twenty():
    """The refit null holds its level. (Scoring permuted held-out labels against fixed out-of-fold scores
    does not: 10-11% false positives on this design, above the bound.)"""
    rng = np.random.default_rng(7)
    cfg = CFG.model_copy(update={"n_null": 100, "n_bootstrap": 100, "cv_folds": 3})
    above = []
    for _ in range(200):
        groups, y = _question_data(30, rng)
        x = rng.normal(size=(y.size, 4)) + np.repeat(rng.normal(size=(30, 4)), 2, axis=0)  # question-clustered noise
        design = scan_design(y, groups, cfg)
        scores, _ = out_of_fold(x, y, design.splits, lambda a, b: fit_probe("logistic", a, b, cfg))
        above.append(pooled_auroc(scores, y) > np.quantile(refit_null(x, design, cfg.logistic_c), 0.95))
    assert np.mean(above) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)


def test_refit_null_tracks_logistic_refits():
    """The one-step null's quantiles match those of the logistic probe really refit to the same permutations."""
    rng = np.random.default_rng(8)
    groups, y = _question_data(50, rng)
    x = rng.normal(size=(y.size, 6))
    cfg = CFG.model_copy(update={"n_null": 100, "cv_folds": 4})
    design = scan_design(y, groups, cfg)
    fast = refit_null(x, design, cfg.logistic_c)
    slow = [
        pooled_auroc(out_of_fold(x, row.astype(bool), design.splits, lambda a, b: fit_probe("logistic", a, b, cfg))[0], row)
        for row in design.null_labels[:60]
    ]
    np.testing.assert_allclose(fast[:60], slow, atol=0.02)
