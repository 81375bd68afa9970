"""Benchmark of the probe statistics at tiny-world scale (prints seconds and ratios, asserts nothing).

Synthetic activations: 6 models x 5 layers (embed + 4), 600 pressured prompts (300 base questions, two
templates), d_model 128; the embedding at the last prompt token is one row for every prompt (as in a real
study: it is dropped), each model's label is planted along a layer-dependent direction whose strength and
angle to the SFT model's differ by model. Runs the whole `analyse` step (cross-fitted probes over 5 question
folds with bootstrap intervals and 1,000-permutation nulls, per-template probes, shortcut baselines,
ablation k=1..3 at the peak layer, cross-fitted SFT transfer with 1,000 max-T permutations per target,
cosines) and times it (target: under 60 s on 2 cores), then compares the
vectorised permutation test with a naive loop of `sklearn.metrics.roc_auc_score` over the same permutations
(one (model, layer) test; the vectorised one tests all layers of a model in one product).

    .venv/bin/python -m benchmarks.bench_probes [--mlp] [--permutations 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from sycolab.probing.analysis import ModelActivations, analyse
from sycolab.probing.config import ProbeConfig
from sycolab.probing.stats import permutation_label_matrix, permutation_pvalues

MODELS = ["base", "sft", "dpo", "ipo", "simpo", "grpo"]
LAYERS = [-1, 0, 1, 2, 3]
N, D = 600, 128


def synthetic_study(seed: int = 0) -> dict[str, ModelActivations]:
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(len(LAYERS), D))
    shared /= np.linalg.norm(shared, axis=1, keepdims=True)
    groups = np.arange(N) // 2
    templates = np.array(["suggest_incorrect", "doubt_correct"] * (N // 2), dtype=object)
    models = {}
    for m, name in enumerate(MODELS):
        y = rng.random(N) < 0.3 + 0.05 * m
        own = rng.normal(size=(len(LAYERS), D))
        own /= np.linalg.norm(own, axis=1, keepdims=True)
        mix = m / len(MODELS)  # later models drift away from the shared direction
        acts = {}
        for i, layer in enumerate(LAYERS):
            direction = (1 - mix) * shared[i] + mix * own[i]
            direction /= np.linalg.norm(direction)
            strength = 0.8 * i / (len(LAYERS) - 1)
            acts[layer] = (rng.normal(size=(N, D)) + np.outer(np.where(y, strength, -strength), direction)).astype(
                np.float16
            )
        acts[-1] = np.tile(rng.normal(size=D), (N, 1)).astype(np.float16)  # the same last token for every prompt
        neutral_wrong = np.array(list(rng.random(N) < 0.3), dtype=object)
        models[name] = ModelActivations(
            name, y, groups, LAYERS, lambda layer, a=acts: a[layer].astype(np.float32), templates, neutral_wrong
        )
    return models


def permutation_speed(models: dict[str, ModelActivations], n_permutations: int) -> tuple[float, float]:
    """Seconds of the vectorised test and of a naive per-permutation loop on one (model, layer) test: same
    scores (a random projection of the layer), same permutations, same p-value."""
    rng = np.random.default_rng(1)
    target = models["dpo"]
    scores = target.load(LAYERS[-1]) @ rng.normal(size=(D, 1))
    scores = scores.T
    start = time.perf_counter()
    _, p_fast = permutation_pvalues(scores, target.labels, n_permutations, np.random.default_rng(2))
    fast = time.perf_counter() - start
    start = time.perf_counter()
    perm = permutation_label_matrix(target.labels, n_permutations, np.random.default_rng(2)).astype(bool)
    p_slow = []
    for row in scores:
        observed = roc_auc_score(target.labels, row)
        null = np.array([roc_auc_score(labels, row) for labels in perm])
        p_slow.append((1 + (null >= observed - 1e-12).sum()) / (1 + n_permutations))
    slow = time.perf_counter() - start
    if not np.allclose(p_fast, p_slow):
        raise AssertionError(f"vectorised and naive p-values differ: {p_fast} vs {p_slow}")
    return fast, slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlp", action="store_true", help="also fit the MLP probe kind")
    parser.add_argument("--permutations", type=int, default=1000)
    args = parser.parse_args()
    models = synthetic_study()
    kinds = ["logistic", "mlp"] if args.mlp else ["logistic"]
    cfg = ProbeConfig(kinds=kinds, n_permutations=args.permutations, ablation_k=3)
    start = time.perf_counter()
    results = analyse(models, cfg)
    total = time.perf_counter() - start
    print(
        f"probes: {len(MODELS)} models x {len(LAYERS)} layers, n={N}, d={D}, kinds={kinds}, "
        f"{args.permutations} permutations per test"
    )
    print(f"  total {total:.2f} s (target < 60 s on 2 cores)")
    for stage, seconds in results.seconds.items():
        print(f"  {stage}: {seconds:.2f} s")
    peaks = {name: round(results.summaries[name]["logistic"].peak_auroc, 3) for name in MODELS}
    print(f"  peak logistic AUROC: {peaks}")
    print(f"  transfer: {[(s.target, round(s.peak_auroc, 3), s.interpretation) for s in results.transfer_summary]}")
    fast, slow = permutation_speed(models, args.permutations)
    print(
        f"permutation test, one (model, layer) x {args.permutations} permutations: vectorised {fast * 1000:.1f} ms, "
        f"naive roc_auc_score loop {slow:.2f} s, ratio {slow / fast:.0f}x"
    )


if __name__ == "__main__":
    main()
