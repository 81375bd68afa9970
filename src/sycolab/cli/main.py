"""`sycolab` command line. Thin: each command parses arguments and calls one library function.

Exit codes: 0 success, 2 bad input (one line naming the place), 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from sycolab.errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, exit 2
        raise UserError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sycolab", description="Sycophancy-recovery studies: induce, recover, evaluate, probe, report.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    loud = _Parser(add_help=False)
    loud.add_argument("-v", "--verbose", action="store_true",
                      help="also show library warnings, load reports and trainer logs (always in RUN_DIR/logs/sycolab.log)")

    run = sub.add_parser("run", parents=[loud], help="run the whole study (resumes an existing run dir)")
    run.add_argument("config")
    run.add_argument("--run-dir", default=None, help="default: runs/<config name>")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    run.add_argument("--stages", default=None, help="comma-separated stage groups to run: world,base,induce,recover,eval,probe,report")
    run.add_argument("--force", action="store_true", help="redo stages even when their inputs are unchanged")

    st = sub.add_parser("status", help="which stages are done, running, stale or missing")
    st.add_argument("run_dir")

    w = sub.add_parser("world", help="write the tiny world's data sets")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--out", required=True)
    w.add_argument("--config", default=None, help="a study config whose `world` section to use")

    tr = sub.add_parser("train", parents=[loud], help="train one method alone into a run dir")
    tr.add_argument("method")
    tr.add_argument("--config", required=True)
    tr.add_argument("--run-dir", required=True)
    tr.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    tr.add_argument("--launcher", choices=["none", "accelerate"], default=None)
    tr.add_argument("--num-processes", type=int, default=None)
    tr.add_argument("--accelerate-config", default=None)
    tr.add_argument("--cell", default=None, help=argparse.SUPPRESS)  # internal: one sweep cell (launcher re-entry)

    ev = sub.add_parser("eval", parents=[loud], help="behavioural evaluation of every stored model that lacks results")
    ev.add_argument("run_dir")
    ev.add_argument("--model", action="append", default=None, help="only this model (repeatable)")
    ev.add_argument("--data", action="append", default=None, help="SycophancyEval JSONL file(s) to evaluate on instead")
    ev.add_argument("--force", action="store_true")

    pr = sub.add_parser("probe", parents=[loud], help="probes, transfer, geometry, ablation, patching, steering")
    pr.add_argument("run_dir")

    rp = sub.add_parser("report", help="Markdown + HTML report from the run store alone")
    rp.add_argument("run_dir")

    sv = sub.add_parser("serve", help="OpenAI-compatible chat endpoint over a local model")
    sv.add_argument("model_dir")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, required=True)

    d = sub.add_parser("data", help="build training sets for a real model through a generator endpoint")
    d.add_argument("questions", help="question file in TruthfulQA's layout (CSV, or its JSONL export)")
    d.add_argument("--config", required=True, help="a study config with a `data_build` section")
    d.add_argument("--out", required=True)
    d.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    b = sub.add_parser("bench", help="the benchmark suite (ratios measured side by side)")
    b.add_argument("--quick", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("SYCOLAB_LOG", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    try:
        args = build_parser().parse_args(argv)
        from sycolab.cli import commands

        return int(getattr(commands, f"cmd_{args.command}")(args) or 0)
    except UserError as e:
        print(f"sycolab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sycolab: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
