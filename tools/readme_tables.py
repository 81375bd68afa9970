"""Write a study's tables into the README: the seed table and seed 0's own tables, as `make study` printed them.

    python tools/readme_tables.py runs/tiny README.md        # after `make study`

Replaces, in place, the fenced block that starts with "Behaviour over seeds" by the run's `report/seeds.md` and
the fenced block that starts with "Behaviour (value" by seed 0's behaviour, training and probing tables
(`sycolab.reporting.terminal.terminal_summary`, the text `sycolab run` ends with, without the line naming the
HTML report's path). Reads the store only. Exit 2, README untouched, when the run or either block is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sycolab.io import atomic_write_text
from sycolab.reporting.terminal import terminal_summary

SEED_TABLE = "Behaviour over seeds"
SEED0_TABLES = "Behaviour (value"
FENCE = "```"


def replace_block(text: str, first_line: str, body: str) -> str:
    """`text` with the fenced block whose first line starts with `first_line` holding `body` instead."""
    lines = text.split("\n")
    for i, line in enumerate(lines[:-1]):
        if line == FENCE and lines[i + 1].startswith(first_line):
            if FENCE not in lines[i + 1:]:
                raise ValueError(f"the fenced block starting with {first_line!r} is never closed")
            end = lines.index(FENCE, i + 1)
            return "\n".join([*lines[:i + 1], *body.rstrip("\n").split("\n"), *lines[end:]])
    raise ValueError(f"no fenced block starting with {first_line!r}")


def seed_zero_tables(run_dir: Path) -> str:
    """Seed 0's terminal tables (a multi-seed run's seed-0/, else the run itself), without the report's path."""
    seed0 = run_dir / "seed-0" if (run_dir / "seed-0").is_dir() else run_dir
    lines = terminal_summary(seed0).split("\n")
    return "\n".join(line for line in lines if not line.startswith(("Full report: ", "No HTML report yet")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("readme", type=Path)
    args = parser.parse_args(argv)
    seeds_md = args.run_dir / "report" / "seeds.md"
    if not seeds_md.exists():
        print(f"readme_tables: {seeds_md} not found (a study over seeds writes it: `make study`)", file=sys.stderr)
        return 2
    seed_table = seeds_md.read_text(encoding="utf-8").strip().removeprefix(FENCE).removesuffix(FENCE).strip("\n")
    try:
        text = replace_block(args.readme.read_text(encoding="utf-8"), SEED_TABLE, seed_table)
        text = replace_block(text, SEED0_TABLES, seed_zero_tables(args.run_dir))
    except ValueError as err:
        print(f"readme_tables: {args.readme}: {err}", file=sys.stderr)
        return 2
    atomic_write_text(args.readme, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
