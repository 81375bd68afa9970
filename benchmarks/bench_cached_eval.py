"""Benchmark: a cached re-evaluation against `sycolab status` on the same run dir.

When every generation, verdict and logit-proxy result an evaluation needs is cached, `sycolab eval --force`
must load no model and cost about as much as reading the store: the script prints the wall time of
`sycolab status RUN`, of `sycolab eval RUN --model base` with cold caches (model load, generation, proxy),
and with warm caches (`--force`, the median of `--repeats` runs), each a fresh child process as a user
runs them (wall and CPU seconds), then the ratios cached / status (target <= 1.5x) and uncached / cached.

The run dir holds the tiny world (`world` section of `--config`, default configs/tiny.yaml) and a base model
of the config's shape trained for one step by the real base stage (only the evaluation's cost matters here).
`make bench` measures the same ratio on the study's SFT model (`benchmarks.suite.cached_eval_vs_status`).
Run `python -m benchmarks.bench_cached_eval [--config configs/tiny.yaml] [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGET_CACHED_OVER_STATUS = 1.5


def build_run(config: Path, run_dir: Path) -> None:
    """The world and base stages of `config`, the base trained for a single step (`sycolab run --stages`)."""
    out = subprocess.run([sys.executable, "-m", "sycolab.cli.main", "run", str(config), "--run-dir", str(run_dir),
                          "--stages", "world,base", "--set", "base.train.max_steps=1", "--set", "world.base_gate=false",
                          "--set", "probe.enabled=false",
                          "--set", "seeds=[]"],  # one study, not the config's seed list
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"building the run dir failed:\n{out.stdout}{out.stderr}")


@dataclass(frozen=True)
class CliTime:
    """Seconds of one `sycolab` child process: wall clock, and CPU (user + system) from `getrusage`, which
    other processes on a shared machine disturb far less."""

    wall: float
    cpu: float


def timed_cli(*args: str) -> CliTime:
    """Run `sycolab ARGS` as a user does: a fresh process, with Python's bytecode cache on (an installed
    package has its .pyc files; `PYTHONDONTWRITEBYTECODE` would make every run compile sycolab again)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "sycolab.cli.main", *args], env=env, capture_output=True, text=True,
                         check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"sycolab {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return CliTime(wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)


def median_time(times: list[CliTime]) -> CliTime:
    return CliTime(statistics.median(t.wall for t in times), statistics.median(t.cpu for t in times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "tiny.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-cached-eval-", dir=args.work_dir))
    run_dir = work / "run"
    build_run(args.config, run_dir)
    uncached = timed_cli("eval", str(run_dir), "--model", "base")
    cached = median_time([timed_cli("eval", str(run_dir), "--model", "base", "--force") for _ in range(args.repeats)])
    status = median_time([timed_cli("status", str(run_dir)) for _ in range(args.repeats)])
    info = json.loads((run_dir / "manifest.json").read_text())["stages"]["eval:base"]["info"]
    requests = sum(1 for _ in (run_dir / "eval" / "base" / "samples.jsonl").open(encoding="utf-8"))
    print(f"run dir {run_dir}; {os.environ.get('OMP_NUM_THREADS', '1')} threads; median of {args.repeats}; "
          f"{requests} evaluation samples")
    for label, t in (("sycolab status", status), ("sycolab eval (cold caches)", uncached),
                     ("sycolab eval --force (cached)", cached)):
        print(f"{label + ':':31} {t.wall:6.2f} s wall, {t.cpu:6.2f} s CPU")
    print(f"model loaded by the cached eval: {info.get('model_loaded')}")
    print(f"cached / status: {cached.wall / status.wall:.2f}x wall, {cached.cpu / status.cpu:.2f}x CPU "
          f"(target <= {TARGET_CACHED_OVER_STATUS}x); uncached / cached: {uncached.wall / cached.wall:.1f}x wall, "
          f"{uncached.cpu / cached.cpu:.1f}x CPU")
    return 0 if not info.get("model_loaded") else 1


if __name__ == "__main__":
    raise SystemExit(main())
