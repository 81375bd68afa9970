"""The benchmark suite's report and helpers (no timing asserted): `benchmarks` is a package of the checkout,
imported without sys.path edits (pytest's `pythonpath` holds the repository root)."""

from __future__ import annotations

import math

from sycolab.store import RunStore


def test_bench_markdown_table_and_stage_breakdown(tmp_path):
    from benchmarks.suite import (
        BenchReport,
        Ratio,
        StudyTiming,
        Timing,
        manifest_stages,
        stage_groups,
    )

    store = RunStore(tmp_path)
    for name, seconds in [("world", 1.0), ("base", 60.0), ("train:sft", 20.0), ("train:dpo", 10.0),
                          ("eval:sft", 6.0), ("eval:base", 3.0)]:
        store.begin_stage(name, "k", {})
        store.end_stage(name, "done", info={"seconds": seconds})
    stages = manifest_stages(tmp_path)
    # pipeline order, whatever the manifest's (sorted) key order and one-second timestamps
    assert [s[0] for s in stages] == ["world", "base", "train:sft", "train:dpo", "eval:base", "eval:sft"]
    assert stage_groups(stages) == {"train": 30.0, "eval": 9.0}
    report = BenchReport(date="2026-01-01", quick=False, machine="test box",
                         ratios=[Ratio("generation", "one at a time", "batched (64)", 12.0, 1.5, "identical")],
                         study=StudyTiming("sycolab run configs/tiny.yaml", 100.0, 812.0, stages, 0, "log"),
                         timings=[Timing("probe analysis (all steps)", 12.345, "6 models")])
    text = report.markdown()
    assert "| generation | one at a time | batched (64) | 12.000 | 1.500 | 8.0x | identical |" in text
    assert "wall 100.0 s, peak memory 812 MB, ok" in text
    assert "| base | done | 60.0 | 60% |" in text  # 60 of the 100 stage-seconds
    assert "| *eval (all)* | | 9.0 | 9% |" in text
    assert "| probe analysis (all steps) | 12.35 | 6 models |" in text


def test_bench_permutation_ratio_agrees_with_sklearn():
    from benchmarks.suite import permutation_ratio

    r = permutation_ratio(n=60, n_permutations=39)
    assert "p-values equal" in r.check and r.baseline_s > 0 and r.optimised_s > 0


def test_gpu_check_step_seconds_is_the_median_gap_after_warmup():
    from benchmarks.gpu_check import step_seconds

    # step ends at 0, 5 (warm-up: a slow first step), 6, 7.5, 8.5 -> gaps after warm-up 1 step: 1, 1.5, 1
    assert step_seconds([0.0, 5.0, 6.0, 7.5, 8.5], warmup=1) == 1.0
    assert math.isclose(step_seconds([0.0, 5.0, 6.0, 7.5], warmup=1), 1.25)


def test_gpu_check_markdown_has_every_row_and_the_ratio():
    from benchmarks.gpu_check import ROWS, Row, markdown

    rows = [Row("sft", "s/step", 1.05, 1.0, 20.0, "batch 8"), Row("dpo", "s/step", 2.0, 2.0, None, "batch 8"),
            Row("grpo", "s/step", 3.0, 2.5, None, "batch 16"),
            Row("activations", "prompts/s", 500.0, None, 4.0, "256 prompts"),
            Row("generation", "tokens/s", 9000.0, None, 5.0, "256 prompts")]
    text = markdown(rows, "box", tiny=False, command="python -m benchmarks.gpu_check")
    assert "| sft | s/step | 1.05 | 1 | 1.05 | 20.0 | ~23 GB | batch 8 |" in text
    assert "| grpo | s/step | 3 | 2.5 | 1.20 |" in text
    assert [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")][1:] == list(ROWS)


def test_generation_ratios_share_one_baseline_and_check_identical_outputs():
    from benchmarks.suite import generation_ratios
    from sycolab.models.testing import (
        DEFAULT_WORDS,
        build_tiny_model,
        build_tiny_tokenizer,
    )

    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(tokenizer, seed=1)
    prompts = [[{"role": "user", "content": " ".join(DEFAULT_WORDS[3 + i: 8 + 2 * i])}] for i in range(6)]
    ratios = generation_ratios(model, tokenizer, prompts, batch_sizes=(2, 4), new_tokens=3)
    assert [r.optimised for r in ratios] == ["batched (2)", "batched (4)"]
    assert ratios[0].baseline_s == ratios[1].baseline_s  # one loop timed once
    assert all("identical greedy outputs 6/6" in r.check for r in ratios)
