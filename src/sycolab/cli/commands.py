"""Bodies of the `sycolab` commands: argument handling and printing only; the work is in library calls."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sycolab.console import quiet_output, say
from sycolab.errors import UserError


def _log_file(run_dir: Path | str) -> Path:
    """Where library warnings, load reports and trainer logs of commands on `run_dir` go."""
    return Path(run_dir) / "logs" / "sycolab.log"


def _study(config: str, run_dir: str | None, overrides: list[str]):
    from sycolab.config import load_config
    from sycolab.store import RunStore
    from sycolab.study.pipeline import Study

    cfg = load_config(config, overrides)
    root = output_dir(run_dir, "--run-dir") if run_dir else output_dir(str(Path("runs") / cfg.name), "run dir")
    return Study(cfg, RunStore(root))


def output_dir(path: str, what: str) -> Path:
    """`path` as a folder sycolab may create and write into; UserError when it is a file, lies under a
    file, or its nearest existing folder is not writable."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{what} {path}: is a file, not a folder; give a folder path (it is created if missing)")
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{what} {path}: {existing} is a file, so the folder cannot be created there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{what} {path}: no permission to write in {existing}")
    return folder


def _study_from_run_dir(run_dir: str):
    from sycolab.config import validate_config
    from sycolab.store import RunStore
    from sycolab.study.pipeline import Study

    store = RunStore(run_dir)
    if not store.exists():
        raise UserError(f"{run_dir}: not a sycolab run dir (no manifest.json); start one with `sycolab run CONFIG --run-dir {run_dir}`")
    cfg = validate_config(store.read_manifest()["config"], source=str(store.manifest_path))
    return Study(cfg, store)


def cmd_run(args: argparse.Namespace) -> int:
    from sycolab.study.pipeline import STAGE_GROUPS
    from sycolab.study.stages import skip_notes
    from sycolab.study.summary import print_summary

    study = _study(args.config, args.run_dir, args.overrides)
    study.rejudge_unscored = args.rejudge_unscored
    groups = None
    if args.stages:
        groups = {g.strip() for g in args.stages.split(",") if g.strip()}
        bad = groups - set(STAGE_GROUPS)
        if bad:
            raise UserError(f"--stages: unknown stage group(s) {sorted(bad)}; choose from {', '.join(STAGE_GROUPS)}")
    study.validate_inputs(groups)  # before anything is written: a bad input leaves no half-made run dir
    if getattr(args, "parallel", None) and not study.cfg.seeds:
        raise UserError("--parallel: this config runs one study (no `seeds` list); it applies to a study over seeds")
    if study.cfg.seeds:
        return _run_seeds(args, study)
    print(f"sycolab: study '{study.cfg.name}' in {study.store.root} (library output: {_log_file(study.store.root)})",
          flush=True)
    start = time.perf_counter()

    def show(outcome) -> None:
        verb = (f"skipped (unchanged{skip_notes(outcome)})" if outcome.status == "skipped"
                else f"done in {outcome.seconds:.1f} s")
        say(f"  [{outcome.name}] {verb}")

    with quiet_output(_log_file(study.store.root), verbose=args.verbose):
        study.run(groups=groups, force=args.force, on_outcome=show)
    print(f"sycolab: finished in {time.perf_counter() - start:.0f} s\n", flush=True)
    print_summary(study.store, sys.stdout)
    return 0


def _run_seeds(args: argparse.Namespace, study) -> int:
    """`sycolab run` of a config with `seeds`: one study per seed as parallel child processes, then the
    seed-aggregated table."""
    from sycolab.errors import StageError
    from sycolab.study.seeds import available_cores, run_seeds, write_seed_summary

    seeds, root = study.cfg.seeds, study.store.root
    parallel = getattr(args, "parallel", None) or available_cores()
    print(f"sycolab: study '{study.cfg.name}' over seeds {', '.join(map(str, seeds))} in {root} "
          f"({parallel} stages computing at once, 1 torch thread each)", flush=True)
    start = time.perf_counter()
    try:
        run_seeds(args.config, root, seeds, args.overrides, stages=args.stages, force=args.force,
                  rejudge_unscored=args.rejudge_unscored, parallel=parallel, say=say,
                  stages_per_seed=len(study.stages()))
    except StageError as e:
        print(f"sycolab: error: {e}", file=sys.stderr)
        return 1
    print(f"sycolab: finished in {time.perf_counter() - start:.0f} s\n", flush=True)
    for seed in seeds:
        print(f"seed {seed}: {root / f'seed-{seed}'} (report: {root / f'seed-{seed}' / 'report' / 'report.html'})")
    path, text = write_seed_summary(root, seeds)
    print("\n" + text)
    print(f"Seed table: {path}")
    return 0


def _seed_dirs(run_dir: str) -> dict[int, Path]:
    """{seed: run dir} of a study over seeds (RUN_DIR/seeds.json), or {} for a single run dir."""
    from sycolab.io import read_json
    from sycolab.study.seeds import SEEDS_FILE, seed_dir

    path = Path(run_dir) / SEEDS_FILE
    if not path.is_file():
        return {}
    return {int(s): seed_dir(Path(run_dir), int(s)) for s in read_json(path).get("seeds", [])}


def cmd_status(args: argparse.Namespace) -> int:
    """Each stage's state. With --config, staleness is judged against that config (with --set) instead of the
    run's own: the stages a `sycolab run` of it would redo. A study over seeds gives each seed its seed's
    overrides, as `sycolab run` does."""
    from sycolab.store import RunStore
    from sycolab.study.seeds import seed_overrides
    from sycolab.study.stages import stage_status

    config, overrides = getattr(args, "config", None), list(getattr(args, "overrides", []))
    if overrides and not config:
        raise UserError("status: --set needs --config (the config the overrides apply to)")
    seeds = _seed_dirs(args.run_dir)
    if seeds:  # a study over seeds: each seed's run dir in turn
        for seed, folder in seeds.items():
            print(f"== seed {seed} ({folder})")
            if RunStore(folder).exists():
                cmd_status(argparse.Namespace(run_dir=str(folder), config=config,
                                              overrides=seed_overrides(overrides, seed) if config else []))
            else:
                print("(not started)")
        return 0
    store = RunStore(args.run_dir)
    if not store.exists():
        raise UserError(f"{args.run_dir}: not a sycolab run dir (no manifest.json)")
    expected = None
    if config:  # the user's config: a bad one is their error (exit 2), not a reason to skip the check
        expected = [s for _, s in _study(config, args.run_dir, overrides).stages()]
    else:
        try:
            expected = [s for _, s in _study_from_run_dir(args.run_dir).stages()]  # stale reasons need the stages
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
    summary = generate_world(world_cfg, output_dir(args.out, "--out"))
    print(f"sycolab: tiny world (seed {args.seed}) written to {args.out}")
    if summary is not None:
        print(summary)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from sycolab.study.stages import skip_notes
    from sycolab.study.train_one import train_one

    study = _study(args.config, args.run_dir, args.overrides)
    if args.launcher:
        study.cfg.execution.launcher = args.launcher
    if args.num_processes:
        study.cfg.execution.num_processes = args.num_processes
    if args.accelerate_config:
        study.cfg.execution.accelerate_config = args.accelerate_config
    study.validate_inputs({"train"})  # data files parse before any training starts
    with quiet_output(_log_file(study.store.root), verbose=args.verbose):
        for outcome in train_one(study, args.method, cell=args.cell):
            if outcome.status == "skipped":
                say(f"  [{outcome.name}] already done with the same inputs (not retrained{skip_notes(outcome)})")
            else:
                say(f"  [{outcome.name}] trained in {outcome.seconds:.1f} s")
    return 0


EVAL_SECTIONS = ("evaluate", "data")


def _study_for_eval(run_dir: str, overrides: list[str], config_file: str | None):
    """The stored run's study with its `evaluate` (and `data`) settings replaced by `--config FILE`'s
    evaluate section and then `--set key.path=value` overrides (the config loader's override syntax)."""
    import copy

    import yaml

    from sycolab.config import validate_config
    from sycolab.config.load import apply_override
    from sycolab.errors import ConfigError
    from sycolab.study.pipeline import Study

    study = _study_from_run_dir(run_dir)
    if not overrides and not config_file:
        return study
    raw = copy.deepcopy(study.store.read_manifest()["config"])
    problems: list[str] = []
    if config_file:
        path = Path(config_file)
        if not path.exists():
            raise UserError(f"--config: file '{config_file}' not found")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(str(path), [f"invalid YAML: {getattr(e, 'problem', e)}"]) from None
        if not isinstance(loaded, dict) or not isinstance(loaded.get("evaluate"), dict):
            raise ConfigError(str(path), ["expected an `evaluate:` section (its judge, generation, ... settings are used)"])
        raw["evaluate"] = _merged(raw.get("evaluate") or {}, loaded["evaluate"])
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key.split(".", 1)[0] not in EVAL_SECTIONS:
            problems.append(f"--set {item}: sycolab eval takes only {' and '.join(s + '.*' for s in EVAL_SECTIONS)} "
                            "settings; the others describe the stored models (use sycolab run for those)")
            continue
        try:
            apply_override(raw, item)
        except ValueError as e:
            problems.append(f"--set {item}: {e}")
    given = ([f"--config {config_file}"] if config_file else []) + (["--set"] if overrides else [])
    source = f"{study.store.manifest_path} with {' and '.join(given)}"
    return Study(validate_config(raw, source=source, problems=problems), study.store)


def _merged(base: dict, update: dict) -> dict:
    """`update` merged into a copy of `base`, section by section."""
    out = dict(base)
    for key, value in update.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def cmd_eval(args: argparse.Namespace) -> int:
    from sycolab.study.evaluate import evaluate_run

    study = _study_for_eval(args.run_dir, args.overrides, args.config)
    study.rejudge_unscored = args.rejudge_unscored
    if args.data:  # parse the given files before any model loads: a bad line fails at once
        from sycolab.data.sycophancy_eval import load_eval_file

        for path in args.data:
            load_eval_file(path)
    study.validate_inputs({"eval"})
    evaluated = []
    with quiet_output(_log_file(study.store.root), verbose=args.verbose):
        for name, status in evaluate_run(study, models=args.model, data=args.data,
                                         force=args.force or args.rejudge_unscored):
            say(f"  [eval:{name}] {status}")
            evaluated.append(name)
    print(_evaluated_table(study.store.root, evaluated, args.data))
    return 0


def _evaluated_table(run_dir: Path, models: list[str], data: list[str] | None) -> str:
    """The behaviour table of what `sycolab eval` evaluated: the run's behaviour table, or with `--data`
    one row per model on those files with the files' hashes and the judge."""
    from sycolab.reporting._results import StudyData
    from sycolab.reporting.tables import behaviour_table
    from sycolab.reporting.terminal import TERMINAL_BEHAVIOUR, section_text

    if not data:
        return section_text("Behaviour (value [95% bootstrap CI])", behaviour_table(StudyData.read_behaviour(run_dir)),
                            TERMINAL_BEHAVIOUR)
    from sycolab.reporting.data_evals import TERMINAL_DATA_EVAL, data_evaluation_table, read_data_evaluations
    from sycolab.store import RunStore
    from sycolab.study.evaluate import data_eval_folder

    folder = data_eval_folder(Path(p) for p in data)
    store = RunStore(run_dir)
    evaluations = read_data_evaluations(run_dir, [store.eval_dir(name) / folder for name in models])
    return section_text(f"Behaviour on {', '.join(Path(p).name for p in data)} (value [95% bootstrap CI])",
                        data_evaluation_table(evaluations), TERMINAL_DATA_EVAL)


def cmd_probe(args: argparse.Namespace) -> int:
    study = _study_from_run_dir(args.run_dir)
    with quiet_output(_log_file(study.store.root), verbose=args.verbose):
        study.run(groups={"probe"}, force=True)
    print(f"sycolab: probing tables in {study.store.probe_dir}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from sycolab.config.sections import ReportConfig
    from sycolab.reporting import build_report
    from sycolab.store import RunStore

    seeds = _seed_dirs(args.run_dir)
    if seeds:  # a study over seeds: every seed's report, then the seed-aggregated table
        from sycolab.study.seeds import write_seed_summary

        for folder in seeds.values():
            if RunStore(folder).exists():
                cmd_report(argparse.Namespace(run_dir=str(folder)))
        path, _ = write_seed_summary(Path(args.run_dir), list(seeds))
        print(f"sycolab: wrote {path}")
        return 0
    store = RunStore(args.run_dir)
    if not store.exists():
        raise UserError(f"{args.run_dir}: not a sycolab run dir (no manifest.json)")
    cfg = ReportConfig.model_validate(store.read_manifest().get("config", {}).get("report", {}))
    for path in build_report(store.root, cfg):
        print(f"sycolab: wrote {path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from sycolab.serve import ServeLimits, serve

    serve(args.model_dir, host=args.host, port=args.port, limits=ServeLimits(
        max_prompt_tokens=args.max_prompt_tokens, max_completion_tokens=args.max_completion_tokens,
        workers=args.workers, request_timeout_s=args.request_timeout,
    ))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from sycolab.config import load_config
    from sycolab.data.build import build_training_data, format_summary

    cfg = load_config(args.config, args.overrides)
    summary = build_training_data(args.questions, cfg.data_build, args.out, seed=cfg.seed)
    print(f"sycolab: training data written to {args.out}")
    print(format_summary(summary))
    return 0
