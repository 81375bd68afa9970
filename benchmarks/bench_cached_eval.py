"""Benchmark: a cached re-evaluation against `sycolab status` on the same run dir.

When every generation, verdict and logit-proxy result an evaluation needs is cached, `sycolab eval --force`
must load no model and cost about as much as reading the store: the script prints the wall time of
`sycolab status RUN`, of `sycolab eval RUN --model base` with cold caches (model load, generation, proxy),
and with warm caches (`--force`, the median of `--repeats` runs), each a fresh child process as a user
runs them, then the ratios cached / status (target <= 1.5x) and uncached / cached.

The run dir holds the tiny world (`world` section of `--config`, default configs/tiny.yaml) and a base model
of the config's shape trained for one step by the real base stage (only the evaluation's cost matters here).
`make bench` measures the same ratio on the study's SFT model (`benchmarks.suite.cached_eval_vs_status`).
Run `python -m benchmarks.bench_cached_eval [--config configs/tiny.yaml] [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGET_CACHED_OVER_STATUS = 1.5


def build_run(config: Path, run_dir: Path) -> None:
    """The world and base stages of `config`, the base trained for a single step (`sycolab run --stages`)."""
    out = subprocess.run([sys.executable, "-m", "sycolab.cli.main", "run", str(config), "--run-dir", str(run_dir),
                          "--stages", "world,base", "--set", "base.train.max_steps=1", "--set", "probe.enabled=false",
                          "--set", "seeds=[]"],  # one study, not the config's seed list
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"building the run dir failed:\n{out.stdout}{out.stderr}")


def timed_cli(*args: str) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "sycolab.cli.main", *args], env=env, capture_output=True, text=True,
                         check=False)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"sycolab {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return seconds


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
    cached = statistics.median(timed_cli("eval", str(run_dir), "--model", "base", "--force")
                               for _ in range(args.repeats))
    status = statistics.median(timed_cli("status", str(run_dir)) for _ in range(args.repeats))
    info = json.loads((run_dir / "manifest.json").read_text())["stages"]["eval:base"]["info"]
    print(f"run dir {run_dir}; {os.environ.get('OMP_NUM_THREADS', '1')} threads; median of {args.repeats}")
    print(f"sycolab status:                 {status:6.2f} s")
    print(f"sycolab eval (cold caches):     {uncached:6.2f} s")
    print(f"sycolab eval --force (cached):  {cached:6.2f} s (model loaded: {info.get('model_loaded')})")
    ratio = cached / status
    print(f"cached / status: {ratio:.2f}x (target <= {TARGET_CACHED_OVER_STATUS}x); "
          f"uncached / cached: {uncached / cached:.1f}x")
    return 0 if not info.get("model_loaded") else 1


if __name__ == "__main__":
    raise SystemExit(main())
