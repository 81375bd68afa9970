"""Are two runs of the same study the same results? Compares, file by file, what a study computes.

    python tools/compare_runs.py RUN_A/seed-0 RUN_B/seed-0

Compared byte for byte: every model's weights (`models/*/*.safetensors`), `eval/*/metrics.json`,
`eval/*/samples.jsonl`, the probe tables, `steer/curve.csv` and `choice.json`, `relearn/*.csv` and
`training/*/checkpoints.csv`, with two fields set aside that record where and how long rather than what:
`metrics.json`'s `provenance.weights_sha256` (it hashes the whole model folder, whose `training_args.bin`
holds the run dir's path) and `checkpoints.csv`'s `seconds`. Prints each file that differs or exists on one
side only, then the counts; exit 1 when anything differs.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

COMPARED = ("models/*/*.safetensors", "eval/*/metrics.json", "eval/*/samples.jsonl", "probe/*.csv", "steer/*.csv",
            "steer/choice.json", "relearn/*.csv", "training/*/checkpoints.csv")


def comparable(path: Path) -> bytes:
    """The file's content with the fields that record a location or a duration set aside."""
    if path.name == "metrics.json":
        data = json.loads(path.read_text(encoding="utf-8"))
        (data.get("provenance") or {}).pop("weights_sha256", None)
        return json.dumps(data, sort_keys=True).encode()
    if path.name == "checkpoints.csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        return json.dumps([{k: v for k, v in r.items() if k != "seconds"} for r in rows]).encode()
    return path.read_bytes()


def compare(a: Path, b: Path) -> tuple[int, list[str]]:
    """(number of identical files, one line per file that differs or is on one side only)."""
    same, problems = 0, []
    for pattern in COMPARED:
        names = {p.relative_to(a) for p in a.glob(pattern)} | {p.relative_to(b) for p in b.glob(pattern)}
        for rel in sorted(names):
            if not (a / rel).exists() or not (b / rel).exists():
                problems.append(f"only in {a if (a / rel).exists() else b}: {rel}")
            elif comparable(a / rel) == comparable(b / rel):
                same += 1
            else:
                problems.append(f"differs: {rel}")
    return same, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    same, problems = compare(args.a, args.b)
    for line in problems:
        print(line)
    print(f"identical {same}, different or one-sided {len(problems)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
