"""Bodies of the `sycolab` commands: argument handling and printing only; the work is in library calls."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sycolab.errors import UserError
from sycolab.study.console import quiet_output, say


def _log_file(run_dir: Path | str) -> Path:
    """Where library warnings, load reports and trainer logs of commands on `run_dir` go."""
    return Path(run_dir) / "logs" / "sycolab.log"


def _study(config: str, run_dir: str | None, overrides: list[str]):
    from sycolab.config import load_config
    from sycolab.study.pipeline import Study
    from sycolab.study.store import RunStore

    cfg = load_config(config, overrides)
    root = Path(run_dir) if run_dir else Path("runs") / cfg.name
    return Study(cfg, RunStore(root))


def _study_from_run_dir(run_dir: str):
    from sycolab.config import validate_config
    from sycolab.study.pipeline import Study
    from sycolab.study.store import RunStore

    store = RunStore(run_dir)
    if not store.exists():
        raise UserError(f"{run_dir}: not a sycolab run dir (no manifest.json); start one with `sycolab run CONFIG --run-dir {run_dir}`")
    cfg = validate_config(store.read_manifest()["config"], source=str(store.manifest_path))
    return Study(cfg, store)


def cmd_run(args: argparse.Namespace) -> int:
    from sycolab.study.pipeline import STAGE_GROUPS
    from sycolab.study.summary import print_summary

    study = _study(args.config, args.run_dir, args.overrides)
    groups = None
    if args.stages:
        groups = {g.strip() for g in args.stages.split(",") if g.strip()}
        bad = groups - set(STAGE_GROUPS)
        if bad:
            raise UserError(f"--stages: unknown stage group(s) {sorted(bad)}; choose from {', '.join(STAGE_GROUPS)}")
    print(f"sycolab: study '{study.cfg.name}' in {study.store.root} (library output: {_log_file(study.store.root)})",
          flush=True)
    start = time.perf_counter()

    def show(outcome) -> None:
        verb = "skipped (unchanged)" if outcome.status == "skipped" else f"done in {outcome.seconds:.1f} s"
        say(f"  [{outcome.name}] {verb}")

    with quiet_output(_log_file(study.store.root), verbose=args.verbose):
        study.run(groups=groups, force=args.force, on_outcome=show)
    print(f"sycolab: finished in {time.perf_counter() - start:.0f} s\n", flush=True)
    print_summary(study.store, sys.stdout)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from sycolab.study.stages import stage_status
    from sycolab.study.store import RunStore

    store = RunStore(args.run_dir)
    if not store.exists():
        raise UserError(f"{args.run_dir}: not a sycolab run dir (no manifest.json)")
    expected = None
    try:
        expected = [s.name for _, s in _study_from_run_dir(args.run_dir).stages()]
    except UserError:
        pass
    rows = stage_status(store, expected)
    width = max(len(r[0]) for r in rows) if rows else 10
    for name, state, detail in rows:
        print(f"{name:<{width}}  {state:<11}  {detail}")
    return 0


def cmd_world(args: argparse.Namespace) -> int:
    from sycolab.world import WorldConfig, generate_world

    if args.config:
        from sycolab.config import load_config

        world_cfg = load_config(args.config).world.model_copy(update={"seed": args.seed})
    else:
        world_cfg = WorldConfig(seed=args.seed)
    summary = generate_world(world_cfg, Path(args.out))
    print(f"sycolab: tiny world (seed {args.seed}) written to {args.out}")
    if summary is not None:
        print(summary)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from sycolab.study.train_one import train_one

    study = _study(args.config, args.run_dir, args.overrides)
    if args.launcher:
        study.cfg.execution.launcher = args.launcher
    if args.num_processes:
        study.cfg.execution.num_processes = args.num_processes
    if args.accelerate_config:
        study.cfg.execution.accelerate_config = args.accelerate_config
    with quiet_output(_log_file(study.store.root), verbose=args.verbose):
        for outcome in train_one(study, args.method, cell=args.cell):
            if outcome.status == "skipped":
                say(f"  [{outcome.name}] already done with the same inputs (not retrained)")
            else:
                say(f"  [{outcome.name}] trained in {outcome.seconds:.1f} s")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from sycolab.study.evaluate import evaluate_run

    study = _study_from_run_dir(args.run_dir)
    with quiet_output(_log_file(study.store.root), verbose=args.verbose):
        for name, status in evaluate_run(study, models=args.model, data=args.data, force=args.force):
            say(f"  [eval:{name}] {status}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    study = _study_from_run_dir(args.run_dir)
    with quiet_output(_log_file(study.store.root), verbose=args.verbose):
        study.run(groups={"probe"}, force=True)
    print(f"sycolab: probing tables in {study.store.probe_dir}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from sycolab.reporting import build_report
    from sycolab.config.sections import ReportConfig
    from sycolab.study.store import RunStore

    store = RunStore(args.run_dir)
    if not store.exists():
        raise UserError(f"{args.run_dir}: not a sycolab run dir (no manifest.json)")
    cfg = ReportConfig.model_validate(store.read_manifest().get("config", {}).get("report", {}))
    for path in build_report(store.root, cfg):
        print(f"sycolab: wrote {path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from sycolab.serve import serve

    serve(args.model_dir, host=args.host, port=args.port)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from sycolab.config import load_config
    from sycolab.data.build import build_training_data, format_summary

    cfg = load_config(args.config, args.overrides)
    summary = build_training_data(args.questions, cfg.data_build, args.out, seed=cfg.seed)
    print(f"sycolab: training data written to {args.out}")
    print(format_summary(summary))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from sycolab.study.bench import run_benchmarks

    run_benchmarks(quick=args.quick)
    return 0
