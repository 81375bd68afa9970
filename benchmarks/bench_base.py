"""Wall time of the default config's base stage (tiny world, 2 CPU cores) and the base model's held-out
plain accuracy (greedy, rule judge).

    python -m benchmarks.bench_base [--config configs/tiny.yaml] [--run-dir DIR]

Target (issue "Foundation"): base stage under 180 s on 2 cores; plain accuracy in [0.6, 0.95].
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict[str, float]:
    from sycolab.config import load_config
    from sycolab.io import read_json
    from sycolab.store import RunStore
    from sycolab.study.pipeline import Study

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="configs/tiny.yaml")
    parser.add_argument("--run-dir", default=None)
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="sycolab-bench-base-"))
    study = Study(load_config(args.config), RunStore(run_dir))
    start = time.perf_counter()
    outcomes = {o.name: o for o in study.run(groups={"world", "base"}, force=True)}
    wall = time.perf_counter() - start
    from sycolab.study.evaluate import evaluate_stored_model

    evaluate_stored_model(study.eval_context(), "base")
    accuracy = read_json(study.store.eval_dir("base") / "metrics.json")["metrics"]["plain_accuracy"]
    info = outcomes["base"].info or {}
    result = {
        "world_s": outcomes["world"].seconds,
        "base_s": outcomes["base"].seconds,
        "world_and_base_s": wall,
        "parameters": info.get("parameters"),
        "plain_accuracy": accuracy["value"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(f"base stage: {result['base_s']:.1f} s (target < 180 s); world: {result['world_s']:.1f} s; "
          f"{result['parameters']} parameters; peak RSS {result['peak_rss_mb']:.0f} MB")
    print(f"base held-out plain accuracy: {accuracy['value']:.3f} [{accuracy['ci_low']:.3f}, {accuracy['ci_high']:.3f}] "
          f"n={accuracy['n']} (target 0.6-0.95)")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
