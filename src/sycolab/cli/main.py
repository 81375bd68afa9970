"""`sycolab` command line. Thin: each command parses arguments and calls one library function.

Exit codes: 0 success, 2 bad input (one line naming the place), 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from sycolab.cpu_numerics import pin_portable_cpu_numerics
from sycolab.errors import IncompleteStageError, UserError
from sycolab.serve.limits import ServeLimits


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own errors: one line, exit 2
        raise UserError(f"{self.prog}: {message}")


_REJUDGE_HELP = ("redo the eval stages, asking the judge again about replies it gave that could not be parsed "
                 "(cached as unscored); everything else comes from the caches")


def _int_in(low: int, high: int, what: str):
    """An argparse type: an integer in low..high, else argparse's one-line error naming the flag."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} (an integer {low}..{high}), got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what} in {low}..{high}, got {value}")
        return value
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


SEED = _int_in(0, 2**32 - 1, "a seed")
PORT = _int_in(0, 65535, "a TCP port (0 picks a free one)")
COUNT = _int_in(1, 1 << 30, "a count")


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
    run.add_argument("--stages", default=None, help="comma-separated stage groups to run: world,base,induce,recover,eval,probe,relearn,report")
    run.add_argument("--force", action="store_true", help="redo stages even when their inputs are unchanged")
    run.add_argument("--rejudge-unscored", action="store_true", help=_REJUDGE_HELP)
    run.add_argument("--parallel", type=COUNT, default=None,
                     help="a study over seeds: how many stages compute at once over all seed studies, one torch "
                          "thread each (default: one per core); one more seed study than that is alive at once")

    st = sub.add_parser("status", help="which stages are done, running, stale or missing")
    st.add_argument("run_dir")
    st.add_argument("--config", default=None,
                    help="judge staleness against this config (and --set) rather than the one the run was made with: "
                         "the stages `sycolab run CONFIG --run-dir RUN_DIR` would redo, and why")
    st.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    w = sub.add_parser("world", help="write the tiny world's data sets")
    w.add_argument("--seed", type=SEED, default=0)
    w.add_argument("--out", required=True)
    w.add_argument("--config", default=None, help="a study config whose `world` section to use")

    tr = sub.add_parser("train", parents=[loud], help="train one method alone into a run dir")
    tr.add_argument("method")
    tr.add_argument("--config", required=True)
    tr.add_argument("--run-dir", required=True)
    tr.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    tr.add_argument("--launcher", choices=["none", "accelerate"], default=None)
    tr.add_argument("--num-processes", type=COUNT, default=None)
    tr.add_argument("--accelerate-config", default=None)
    tr.add_argument("--cell", default=None, help=argparse.SUPPRESS)  # internal: one sweep cell (launcher re-entry)

    ev = sub.add_parser("eval", parents=[loud], help="behavioural evaluation of every stored model that lacks results")
    ev.add_argument("run_dir")
    ev.add_argument("--model", action="append", default=None, help="only this model (repeatable)")
    ev.add_argument("--data", action="append", default=None, help="SycophancyEval JSONL file(s) to evaluate on instead")
    ev.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                    help="evaluate.* / data.* settings, e.g. --set evaluate.judge.kind=openai")
    ev.add_argument("--config", default=None, help="a YAML file whose evaluate section (judge, generation, ...) is used")
    ev.add_argument("--force", action="store_true")
    ev.add_argument("--rejudge-unscored", action="store_true", help=_REJUDGE_HELP)

    pr = sub.add_parser("probe", parents=[loud], help="probes, transfer, geometry, ablation, patching, steering")
    pr.add_argument("run_dir")

    rp = sub.add_parser("report", help="Markdown + HTML report from the run store alone")
    rp.add_argument("run_dir")

    sv = sub.add_parser("serve", help="OpenAI-compatible chat endpoint over a local model")
    sv.add_argument("model_dir")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=PORT, required=True)
    sv.add_argument("--max-prompt-tokens", type=COUNT, default=ServeLimits.max_prompt_tokens,
                    help="longest rendered prompt accepted, in tokens (longer: HTTP 400)")
    sv.add_argument("--max-completion-tokens", type=COUNT, default=ServeLimits.max_completion_tokens,
                    help="largest max_tokens a request may ask for (larger: HTTP 400)")
    sv.add_argument("--workers", type=COUNT, default=ServeLimits.workers, help="requests handled at once")
    sv.add_argument("--request-timeout", type=_positive_float, default=ServeLimits.request_timeout_s,
                    help="seconds a client may take to send its request")

    d = sub.add_parser("data", help="build training sets for a real model through a generator endpoint")
    d.add_argument("questions", help="question file in TruthfulQA's layout (CSV, or its JSONL export)")
    d.add_argument("--config", required=True, help="a study config with a `data_build` section")
    d.add_argument("--out", required=True)
    d.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    pin_portable_cpu_numerics()  # before torch runs anything: the same floats on every x86-64 CPU with AVX2
    logging.basicConfig(level=os.environ.get("SYCOLAB_LOG", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    try:
        args = build_parser().parse_args(argv)
        from sycolab.cli import commands

        return int(getattr(commands, f"cmd_{args.command}")(args) or 0)
    except UserError as e:
        print(f"sycolab: error: {e}", file=sys.stderr)
        return 2
    except IncompleteStageError as e:  # e.g. judge calls that failed: what finished is kept, a rerun resumes
        print(f"sycolab: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sycolab: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sycolab status RUN | head`: the reader left; no traceback (Python docs' recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
