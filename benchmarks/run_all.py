"""Run the whole benchmark suite (what `make bench` runs).

    .venv/bin/python -m benchmarks.run_all [--quick] [--config configs/tiny.yaml] [--out benchmarks/results]
                                           [--work-dir DIR] [--keep-run-dir] [--gpu | --no-gpu]

Prints a table of ratios measured side by side (batched vs one-at-a-time generation, vectorised vs naive
permutation test, cached vs uncached re-evaluation), the study's wall time with a per-stage breakdown and
peak memory, and with CUDA the tokens/s of a 0.5B-class Qwen3; writes it to benchmarks/results/<date>.md.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.suite import run_benchmarks

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shrunken study and smaller micro benchmarks (CI)")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "tiny.yaml", help="study to time")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results",
                        help="folder for <date>.md")
    parser.add_argument("--work-dir", type=Path, default=None, help="where the study's run dir goes (kept)")
    parser.add_argument("--keep-run-dir", action="store_true", help="keep the temporary run dir")
    gpu = parser.add_mutually_exclusive_group()
    gpu.add_argument("--gpu", dest="gpu", action="store_true", default=None, help="force the CUDA benchmark")
    gpu.add_argument("--no-gpu", dest="gpu", action="store_false", help="skip the CUDA benchmark")
    args = parser.parse_args(argv)
    report = run_benchmarks(quick=args.quick, config=args.config, out_dir=args.out, work_dir=args.work_dir,
                            keep_run_dir=args.keep_run_dir, gpu=args.gpu)
    return 0 if report.study is None or report.study.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
