"""The benchmark suite behind `make bench` (`python -m benchmarks.run_all`): ratios measured side by side.

One run measures, on this machine:
- the study: `sycolab run configs/tiny.yaml` (what `make study` runs) in a fresh run dir, as a child process:
  wall time, seconds of every stage (the manifest's `info.seconds`), peak resident memory of the child
  (`getrusage(RUSAGE_CHILDREN).ru_maxrss`);
- generation: the batched transformers backend (batch 64, 128 as configs/tiny.yaml evaluates, and 256) vs one
  prompt at a time, same prompts, same greedy outputs (the study's SFT model on 256 of the world's answer prompts);
- permutation test: the vectorised AUROC permutation test (`sycolab.probing.stats.permutation_pvalues`,
  one matrix product per chunk of permutations) vs a loop of `sklearn.metrics.roc_auc_score`, same
  permutations, same p-value;
- re-evaluation: evaluating a stored model with cold caches vs again with the generation and verdict caches
  warm (same metrics);
- cached evaluation vs `sycolab status`: `sycolab eval RUN --model sft --force` with every generation,
  verdict and proxy result cached, against `sycolab status RUN`, each a fresh process
  (`benchmarks.bench_cached_eval.timed_cli`; target <= 1.5x);
- probing: the whole probe analysis on synthetic activations at tiny-world scale
  (`benchmarks.bench_probes`), seconds per step, and the study's probe stage run again part by part
  (`benchmarks.bench_probe_stage`: model loads, activations, patching, statistics, interventions; CPU s);
- with CUDA: `benchmarks.gpu_check` (sycolab's SFT/DPO/GRPO vs bare TRL, activation extraction and
  generation at Qwen3-1.7B's shapes).

`quick` shrinks the study (a smaller world, a few steps per stage, DPO only, logistic probes) and the
micro benchmarks, for CI. The table is printed and written to `benchmarks/results/<date>.md`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sycolab.errors import UserError

#: `--set` overrides that make the tiny study a couple of minutes long (plumbing, not learning).
QUICK_STUDY_OVERRIDES = (
    "world.n_entities=48", "world.n_eval_questions=24", "world.n_are_you_sure=24", "world.n_feedback_eval=6",
    "world.n_feedback_train=12", "world.n_feedback_sft=8", "world.n_grpo_prompts=16",
    "base.train.max_steps=20", "world.base_gate=false", "induce.max_steps=10",
    "recover={dpo: {beta: 0.1, learning_rate: 5.0e-4, max_steps: 10, per_device_train_batch_size: 16}}",
    "probe.n_permutations=100", "probe.kinds=[logistic]",
)


@dataclass(frozen=True)
class Ratio:
    """Two ways of doing the same work, timed one after the other on the same inputs."""

    name: str
    baseline: str
    optimised: str
    baseline_s: float
    optimised_s: float
    check: str  # the correctness check that makes the comparison fair

    @property
    def ratio(self) -> float:
        return self.baseline_s / self.optimised_s if self.optimised_s > 0 else float("inf")


@dataclass(frozen=True)
class StudyTiming:
    command: str
    wall_s: float
    peak_rss_mb: float
    stages: list[tuple[str, str, float | None]]  # (stage, status, seconds)
    returncode: int
    log: str


@dataclass(frozen=True)
class Timing:
    """Seconds of one piece of work (no baseline to compare against)."""

    name: str
    seconds: float
    detail: str


@dataclass
class BenchReport:
    date: str
    quick: bool
    machine: str
    ratios: list[Ratio] = field(default_factory=list)
    study: StudyTiming | None = None
    timings: list[Timing] = field(default_factory=list)
    gpu_check: str | None = None  # benchmarks.gpu_check's table, with CUDA
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"# sycolab benchmarks, {self.date}{' (quick)' if self.quick else ''}", "", f"Machine: {self.machine}", ""]
        lines += ["## Ratios (measured side by side)", "",
                  "| benchmark | baseline | optimised | baseline s | optimised s | ratio | check |",
                  "|---|---|---|---:|---:|---:|---|"]
        for r in self.ratios:
            lines.append(f"| {r.name} | {r.baseline} | {r.optimised} | {r.baseline_s:.3f} | {r.optimised_s:.3f} | "
                         f"{r.ratio:.1f}x | {r.check} |")
        if self.study is not None:
            s = self.study
            status = "ok" if s.returncode == 0 else f"FAILED (exit {s.returncode}, log {s.log})"
            lines += ["", "## Study", "",
                      f"`{s.command}`: wall {s.wall_s:.1f} s, peak memory {s.peak_rss_mb:.0f} MB, {status}",
                      "", "| stage | status | seconds | share |", "|---|---|---:|---:|"]
            total = sum(sec for _, _, sec in s.stages if sec) or 1.0
            for name, state, sec in s.stages:
                shown = "" if sec is None else f"{sec:.1f}"
                share = "" if sec is None else f"{100 * sec / total:.0f}%"
                lines.append(f"| {name} | {state} | {shown} | {share} |")
            for group, sec in stage_groups(s.stages).items():
                lines.append(f"| *{group} (all)* | | {sec:.1f} | {100 * sec / total:.0f}% |")
        if self.timings:
            lines += ["", "## Timings", "", "| work | seconds | setup |", "|---|---:|---|"]
            lines += [f"| {t.name} | {t.seconds:.2f} | {t.detail} |" for t in self.timings]
        if self.gpu_check:
            lines += ["", "## GPU check", "", self.gpu_check.split("\n", 1)[1].strip()]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def stage_groups(stages: list[tuple[str, str, float | None]]) -> dict[str, float]:
    """Seconds per stage group: `train:dpo[beta=0.1]` -> `train`, `eval:sft` -> `eval`."""
    out: dict[str, float] = {}
    for name, _, sec in stages:
        if sec is not None and ":" in name:
            group = name.split(":", 1)[0]
            out[group] = out.get(group, 0.0) + sec
    return out


# -- the study -----------------------------------------------------------------------------------

def run_study(config: Path, run_dir: Path, overrides: tuple[str, ...] = (), log: Path | None = None) -> StudyTiming:
    """Run `sycolab run CONFIG --run-dir RUN_DIR` as a child process; time it and read the stage breakdown.
    One study (`seeds=[]`): a config's seed list would run several studies in parallel, whose stage times
    are not one study's."""
    cmd = [sys.executable, "-m", "sycolab.cli.main", "run", str(config), "--run-dir", str(run_dir)]
    for item in ("seeds=[]", *overrides):
        cmd += ["--set", item]
    log = log or run_dir.with_name(run_dir.name + ".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    with log.open("wb") as out:  # a log stream, not a store artifact
        returncode = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    wall = time.perf_counter() - start
    peak_kb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    shown = f"sycolab run {config}" + (f" (+{len(overrides)} --set overrides)" if overrides else "")
    return StudyTiming(shown, wall, peak_kb / 1024, manifest_stages(run_dir), returncode, str(log))


def manifest_stages(run_dir: Path) -> list[tuple[str, str, float | None]]:
    """(stage, status, seconds) from a run dir's manifest.json, in the order the stages began."""
    path = Path(run_dir) / "manifest.json"
    if not path.exists():
        return []
    stages = json.loads(path.read_text(encoding="utf-8")).get("stages", {})
    rows = [(name, e.get("status", "?"), (e.get("info") or {}).get("seconds"), e.get("started") or "")
            for name, e in stages.items()]
    rows.sort(key=lambda r: (_STAGE_ORDER.get(r[0].split(":", 1)[0] if r[0] != "train:sft" else "sft", 9), r[3]))
    return [(name, status, sec) for name, status, sec, _ in rows]


_STAGE_ORDER = {"world": 0, "base": 1, "sft": 2, "train": 3, "eval": 4, "probe": 5, "report": 6}


# -- generation: batched vs one at a time --------------------------------------------------------------

def generation_ratios(model: Any, tokenizer: Any, prompts: list[list[dict]], batch_sizes: tuple[int, ...] = (64, 256),
                      new_tokens: int = 12, rounds: int = 4) -> list[Ratio]:
    """Greedy completions of `prompts` with `HFBackend(batch_size)` for each batch size vs `HFBackend(1)` one
    call per prompt, interleaved so that a shared machine's changing load hits every path alike.

    Each of `rounds` rounds generates all prompts once per batch size, then a `1/rounds` share of the prompts
    one at a time. Batched seconds: the median round; one-at-a-time seconds: the sum of its shares. Both wall
    and CPU (process) time are kept; the ratio column is wall time, the check gives the CPU-time ratio, which
    other processes on the machine disturb far less. Outputs must be identical.
    """
    from sycolab.generation import HFBackend, SamplingParams

    params = SamplingParams(max_new_tokens=new_tokens)
    single = HFBackend(model, tokenizer, "bench", batch_size=1, progress=False)
    batched = {size: HFBackend(model, tokenizer, "bench", batch_size=size, progress=False) for size in batch_sizes}
    for backend in (single, *batched.values()):  # warm-up
        backend.generate(prompts[:4], params)
    times: dict[int, list[tuple[float, float]]] = {size: [] for size in batch_sizes}
    outputs: dict[int, list[list[str]]] = {}
    slow: list[list[str]] = []
    slow_wall = slow_cpu = 0.0
    share = -(-len(prompts) // rounds)
    for r in range(rounds):
        for size, backend in batched.items():
            wall, cpu, out = _timed_both(lambda b=backend: b.generate(prompts, params))
            times[size].append((wall, cpu))
            outputs.setdefault(size, out)
        part = prompts[r * share:(r + 1) * share]
        wall, cpu, out = _timed_both(lambda p=part: [single.generate([x], params)[0] for x in p])
        slow_wall, slow_cpu = slow_wall + wall, slow_cpu + cpu
        slow += out
    ratios = []
    for size in batch_sizes:
        wall = statistics.median(w for w, _ in times[size])
        cpu = statistics.median(c for _, c in times[size])
        same = sum(a == b for a, b in zip(outputs[size], slow))
        ratios.append(Ratio("generation", "one prompt at a time", f"batched ({size})", slow_wall, wall,
                            f"{len(prompts)} prompts, {new_tokens} new tokens, {rounds} interleaved rounds; "
                            f"CPU-time ratio {slow_cpu / cpu:.1f}x; identical greedy outputs {same}/{len(prompts)}"))
    return ratios


def study_generation_inputs(run_dir: Path, model_name: str, n_prompts: int) -> tuple[Any, Any, list[list[dict]]]:
    """A trained model of a run dir and the world's answer prompts."""
    from sycolab.data.sycophancy_eval import load_answer
    from sycolab.models.load import load_model_and_tokenizer, stored_model_source

    model, tokenizer = load_model_and_tokenizer(stored_model_source(Path(run_dir) / "models" / model_name))
    items = load_answer(Path(run_dir) / "world" / "eval" / "answer.jsonl")
    return model, tokenizer, [item.messages for item in items[:n_prompts]]


def synthetic_generation_inputs(n_prompts: int, seed: int = 0) -> tuple[Any, Any, list[list[dict]]]:
    """A random tiny-world-sized Qwen3 (hidden 128, 4 layers; peaked init so greedy decoding has no ties)
    with a word tokenizer, and prompts of 11-19 random words."""
    import random

    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from sycolab.models.tokenizer import train_word_tokenizer

    words = [f"w{i}" for i in range(400)]
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(11, 19))) + " ?" for _ in range(n_prompts)]
    tokenizer = train_word_tokenizer([" ".join(words), *texts])
    config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=384, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=32, initializer_range=0.2,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config).eval()
    return model, tokenizer, [[{"role": "user", "content": t}] for t in texts]


# -- permutation test: vectorised vs naive --------------------------------------------------------------

def permutation_ratio(n: int = 600, n_permutations: int = 1000, seed: int = 0) -> Ratio:
    """One AUROC permutation test (n samples, planted signal): `permutation_pvalues` vs a loop of
    `roc_auc_score` over the same permuted label matrix; the p-values must agree."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from sycolab.probing.stats import permutation_label_matrix, permutation_pvalues

    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.4
    scores = rng.normal(size=n) + 0.3 * labels
    fast_s, (_, p_fast) = _timed(lambda: permutation_pvalues(scores, labels, n_permutations, np.random.default_rng(1)))

    def naive() -> float:
        perm = permutation_label_matrix(labels, n_permutations, np.random.default_rng(1)).astype(bool)
        observed = roc_auc_score(labels, scores)
        null = np.array([roc_auc_score(row, scores) for row in perm])
        return float((1 + (null >= observed - 1e-12).sum()) / (1 + n_permutations))

    slow_s, p_slow = _timed(naive)
    agree = "equal" if abs(float(p_fast[0]) - p_slow) < 1e-12 else f"DIFFER ({float(p_fast[0])} vs {p_slow})"
    return Ratio("permutation test", "roc_auc_score loop", "vectorised", slow_s, fast_s,
                 f"n={n}, {n_permutations} permutations; p-values {agree} (p={p_slow:.4f})")


# -- re-evaluation: cold vs warm caches ----------------------------------------------------------------

def reeval_ratio(run_dir: Path, model_name: str = "sft") -> Ratio:
    """Evaluate stored model `model_name` with empty generation/verdict caches, then again with them warm."""
    from sycolab.config import validate_config
    from sycolab.store import RunStore
    from sycolab.study.evaluate import evaluate_stored_model
    from sycolab.study.pipeline import Study

    store = RunStore(run_dir)
    study = Study(validate_config(store.read_manifest()["config"], source=str(store.manifest_path)), store)
    scratch = Path(tempfile.mkdtemp(prefix="reeval-", dir=run_dir))
    cache_backup = scratch / "cache-backup"
    if store.cache_dir.exists():
        shutil.move(str(store.cache_dir), cache_backup)
    try:
        cold_s, cold = _timed(lambda: evaluate_stored_model(study.eval_context(), model_name, out_dir=scratch / "cold"))
        warm_s, warm = _timed(lambda: evaluate_stored_model(study.eval_context(), model_name, out_dir=scratch / "warm"))
        same = (scratch / "cold" / "samples.jsonl").read_bytes() == (scratch / "warm" / "samples.jsonl").read_bytes()
        n_samples = (scratch / "cold" / "samples.jsonl").read_bytes().count(b"\n")
    finally:
        shutil.rmtree(store.cache_dir, ignore_errors=True)
        if cache_backup.exists():
            shutil.move(str(cache_backup), store.cache_dir)
        shutil.rmtree(scratch, ignore_errors=True)
    headline = {k: v for k, v in cold.items() if k != "model_loaded"}
    same = same and headline == {k: v for k, v in warm.items() if k != "model_loaded"}
    return Ratio(f"re-evaluation ({model_name})", "uncached", "cached", cold_s, warm_s,
                 f"{n_samples} samples; identical samples and metrics: {'yes' if same else 'NO'}; model loaded: uncached "
                 f"{cold.get('model_loaded')}, cached {warm.get('model_loaded')}")


# -- cached evaluation vs status, probing ----------------------------------------------------------------

def cached_eval_vs_status(run_dir: Path, model_name: str = "sft", repeats: int = 3) -> Ratio:
    """`sycolab eval RUN --model NAME --force` with warm caches vs `sycolab status RUN` (medians of `repeats`
    fresh processes, alternated). The ratio column is cached eval / status in wall time: what a fully cached
    evaluation costs beyond reading the store (target <= 1.5x); the check gives the CPU-time ratio."""
    from benchmarks.bench_cached_eval import TARGET_CACHED_OVER_STATUS, median_time, timed_cli

    timed_cli("eval", str(run_dir), "--model", model_name)  # fills any cache the study left cold
    cached_runs, status_runs = [], []
    for _ in range(repeats):
        cached_runs.append(timed_cli("eval", str(run_dir), "--model", model_name, "--force"))
        status_runs.append(timed_cli("status", str(run_dir)))
    cached, status = median_time(cached_runs), median_time(status_runs)
    info = json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))["stages"][f"eval:{model_name}"]
    loaded = (info.get("info") or {}).get("model_loaded")
    return Ratio(f"cached eval ({model_name}) / status", "sycolab eval --force, all cached", "sycolab status",
                 cached.wall, status.wall, f"target <= {TARGET_CACHED_OVER_STATUS}x; CPU-time ratio "
                 f"{cached.cpu / status.cpu:.2f}x ({cached.cpu:.2f} s / {status.cpu:.2f} s); model loaded: {loaded}; "
                 f"median of {repeats} alternated processes each")


def probing_timings(n_permutations: int) -> list[Timing]:
    """The probe analysis of `benchmarks.bench_probes` (6 models x 5 layers, n=600, d=128, logistic)."""
    from benchmarks.bench_probes import LAYERS, MODELS, N, synthetic_study
    from sycolab.probing.analysis import analyse
    from sycolab.probing.config import ProbeConfig

    setup = f"{len(MODELS)} models x {len(LAYERS)} layers, n={N}, logistic, {n_permutations} permutations"
    models = synthetic_study()
    seconds, results = _timed(lambda: analyse(models, ProbeConfig(
        kinds=["logistic"], n_permutations=n_permutations, ablation_k=3)))
    return [Timing("probe analysis (all steps)", seconds, setup)] + [
        Timing(f"probe analysis: {step}", sec, setup) for step, sec in results.seconds.items()]


def probe_stage_timings(run_dir: Path) -> list[Timing]:
    """CPU seconds of each part of the study's probe stage, run again on its run dir
    (`benchmarks.bench_probe_stage`; the same tables are rewritten)."""
    from benchmarks.bench_probe_stage import PARTS, probe_stage_parts

    parts = probe_stage_parts(run_dir)
    setup = f"the study's probe stage run again, CPU seconds (wall {parts['wall']:.1f} s in all)"
    return [Timing(f"probe stage: {label}", parts.get(label, 0.0), setup) for label in [*PARTS, "total"]]


# -- the suite -----------------------------------------------------------------------------------------

def default_config() -> Path:
    """configs/tiny.yaml of the working directory (the repo root under `make bench`)."""
    path = Path("configs/tiny.yaml")
    if not path.exists():
        raise UserError("bench: configs/tiny.yaml not found; run `python -m benchmarks.run_all` from the "
                        "repository root (or give it --config)")
    return path


def machine_description() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = f", load average {os.getloadavg()[0]:.1f} at start" if hasattr(os, "getloadavg") else ""
    return (f"{platform.platform()}, {os.cpu_count()} CPU cores{load}, Python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}")


def run_benchmarks(quick: bool = False, config: Path | None = None, out_dir: Path | None = None,
                   work_dir: Path | None = None, keep_run_dir: bool = False, gpu: bool | None = None,
                   out: TextIO | None = None) -> BenchReport:
    """Run the whole suite, print the table, write `<out_dir>/<date>[-quick].md`; return the report.

    `config`: the study to time (default configs/tiny.yaml); `work_dir`: where the study's run dir goes
    (default a temporary folder, deleted unless `keep_run_dir`); `gpu`: run `benchmarks.gpu_check` (default:
    when CUDA is available).
    """
    import torch

    out = out or sys.stdout
    config = Path(config) if config else default_config()
    today = dt.date.today().isoformat()
    report = BenchReport(date=today, quick=quick, machine=machine_description())
    scratch = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="sycolab-bench-"))
    run_dir = scratch / "study"
    shutil.rmtree(run_dir, ignore_errors=True)

    def step(label: str, fn: Callable[[], Any]) -> Any:
        out.write(f"bench: {label} ...\n")
        out.flush()
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - one broken benchmark must not hide the others
            report.notes.append(f"{label} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            return None

    try:
        overrides = QUICK_STUDY_OVERRIDES if quick else ()
        report.study = step(f"study {config} (log: {run_dir}.log)", lambda: run_study(config, run_dir, overrides))
        study_ok = report.study is not None and report.study.returncode == 0
        if report.study is not None and not study_ok:
            report.notes.append(f"the study failed (exit {report.study.returncode}); see {report.study.log}")
        n_prompts = 64 if quick else 256

        def generation() -> list[Ratio]:
            if study_ok:
                inputs = study_generation_inputs(run_dir, "sft", n_prompts)
            else:
                inputs = synthetic_generation_inputs(n_prompts)
                report.notes.append("generation used a random tiny model (no study model available)")
            return generation_ratios(*inputs, batch_sizes=(64, 128, 256), new_tokens=12)

        report.ratios += step("generation: batched vs one at a time", generation) or []
        for ratio in (
            step("permutation test: vectorised vs naive",
                 lambda: permutation_ratio(n=600, n_permutations=200 if quick else 1000)),
            step("re-evaluation: cached vs uncached", lambda: reeval_ratio(run_dir, "sft") if study_ok else None),
            step("cached evaluation vs sycolab status",
                 lambda: cached_eval_vs_status(run_dir, "sft") if study_ok else None),
        ):
            if ratio is not None:
                report.ratios.append(ratio)
        report.timings = step("probe analysis", lambda: probing_timings(200 if quick else 1000)) or []
        if study_ok:
            report.timings += step("probe stage, part by part", lambda: probe_stage_timings(run_dir)) or []
        if gpu if gpu is not None else torch.cuda.is_available():
            from benchmarks import gpu_check

            def check() -> str:
                rows = gpu_check.run_check(tiny=False, work=scratch / "gpu-check", out=lambda m: out.write(m + "\n"))
                return gpu_check.markdown(rows, gpu_check.machine(), False, "python -m benchmarks.run_all --gpu")

            report.gpu_check = step("GPU check (benchmarks.gpu_check)", check)
    finally:
        if not keep_run_dir and work_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    text = report.markdown()
    out.write("\n" + text)
    target = Path(out_dir) if out_dir else Path("benchmarks") / "results"
    from sycolab.io import atomic_write_text

    path = atomic_write_text(target / f"{today}{'-quick' if quick else ''}.md", text)
    out.write(f"\nbench: results written to {path}\n")
    return report


def _timed_both(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, value)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, value


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value
