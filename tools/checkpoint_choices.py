"""Which checkpoint the judge kept and which one the logit proxy would have kept, per trained model.

    python tools/checkpoint_choices.py runs/tiny      # a run dir, or a multi-seed one (seed-<N>/ folders)

Reads each `training/<model>/checkpoints.csv` whose summary says select_by judged, and prints the kept
step, the step the logit proxy of the same evaluations ranks best (`--proxy-metric`, default
proxy_sycophancy, the checkpoint policy's default; lower is better, the first on a tie, as the checkpoint
callback ranks), and a count of the runs where they differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sycolab.io import read_json, read_table


def best_step(rows: list[dict], column: str) -> int | None:
    """The step whose `column` is lowest (the first on a tie; rows without a value never win)."""
    scored = [r for r in rows if r.get(column) is not None]
    return min(scored, key=lambda r: r[column])["step"] if scored else None


def choices(run_dir: Path, proxy_metric: str = "proxy_sycophancy") -> list[tuple[str, str, int | None, int | None]]:
    """(run, model, kept step, proxy's best step) for every judge-selected model under `run_dir`."""
    runs = sorted(p for p in run_dir.glob("seed-*") if p.is_dir()) or [run_dir]
    out = []
    for run in runs:
        for table in sorted(run.glob("training/*/checkpoints.csv")):
            summary = read_json(table.with_name("summary.json")).get("checkpoint") or {}
            if summary.get("select_by") != "judged":
                continue
            out.append((run.name, table.parent.name, summary.get("best_step"),
                        best_step(read_table(table), f"proxy.{proxy_metric}")))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--proxy-metric", default="proxy_sycophancy", choices=["proxy_sycophancy", "logit_gap", "gap"])
    args = parser.parse_args(argv)
    rows = choices(args.run_dir, args.proxy_metric)
    for run, model, kept, proxy in rows:
        print(f"{run:10s} {model:12s} judge kept step {kept}, proxy would keep step {proxy}"
              + ("" if kept == proxy else "  (differs)"))
    print(f"{sum(kept != proxy for _, _, kept, proxy in rows)} of {len(rows)} differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
