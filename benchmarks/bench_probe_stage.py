"""Benchmark: CPU seconds of each part of the probe stage, on a finished run dir.

Runs the probe stage of RUN_DIR again (`sycolab.study.probe.probe_study`, what `sycolab probe RUN_DIR` runs
before the steer stage; it rewrites `RUN_DIR/probe/` with the same tables) in this process and prints the CPU
(process) time of its parts: model loads, activation extraction, activation patching, the statistics
(`probing.analysis.analyse`: probes with intervals and nulls, per-template probes, baselines, ablation,
transfer, cosines; the batched MLP and logistic probe fits shown apart) and the direction interventions (which load the source model once more and generate).
CPU time is what one idle thread would take; wall time on a shared machine mostly measures the other
processes. Set `OMP_NUM_THREADS=1` for the single-thread figure issue #18 asks for.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_probe_stage RUN_DIR
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PARTS = {
    "model loads": ("sycolab.study.probe", "load_stored"),
    "activations": ("sycolab.probing.runner", "extract_positions"),
    "patching": ("sycolab.probing.runner", "_patching"),
    "statistics (analyse)": ("sycolab.probing.runner", "analyse"),
    "MLP probe fits (in statistics)": ("sycolab.probing.probes", "mlp_out_of_fold"),
    "logistic Newton fits (in statistics)": ("sycolab.probing.logistic", "newton_logistic"),
    "interventions": ("sycolab.probing.runner", "_causal"),
}


def probe_stage_parts(run_dir: Path) -> dict[str, float]:
    """{part: CPU seconds} of one probe stage on `run_dir`, with "total" (the whole stage) and "wall".
    "interventions" includes its own model load, which "model loads" counts too; the two "... (in statistics)" parts
    are parts of "statistics (analyse)"."""
    import importlib

    from sycolab.config import validate_config
    from sycolab.store import RunStore
    from sycolab.study.pipeline import Study
    from sycolab.study.probe import probe_study

    seconds: dict[str, float] = {}
    originals: list[tuple[Any, str, Callable]] = []

    def timed(label: str, fn: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[label] = seconds.get(label, 0.0) + time.process_time() - start
        return wrapper

    for label, (module_name, attr) in PARTS.items():
        module = importlib.import_module(module_name)
        originals.append((module, attr, getattr(module, attr)))
        setattr(module, attr, timed(label, getattr(module, attr)))
    try:
        store = RunStore(run_dir)
        study = Study(validate_config(store.read_manifest()["config"], source=str(store.manifest_path)), store)
        cpu, wall = time.process_time(), time.perf_counter()
        probe_study(study.probe_context())
        seconds["total"], seconds["wall"] = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        for module, attr, fn in originals:
            setattr(module, attr, fn)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    parts = probe_stage_parts(args.run_dir)
    summary = json.loads((args.run_dir / "probe" / "summary.json").read_text(encoding="utf-8"))
    print(f"probe stage of {args.run_dir} ({len(summary.get('models', {}))} models, positions "
          f"{list(summary.get('positions', {}))}):")
    for label in [*PARTS, "total"]:
        print(f"  {label + ':':38} {parts.get(label, 0.0):7.1f} s CPU")
    print(f"  {'wall:':38} {parts['wall']:7.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
