"""A study over several seeds: one complete study per seed (world and training seeded together), each in
`RUN_DIR/seed-<N>/`, run as parallel single-thread child processes (`sycolab run ... --set seed=N
--set world.seed=N --set seeds=[]`), then the seed-aggregated table in `RUN_DIR/report/seeds.md`. The
children share the machine's cores through CPU slots (`sycolab.study.cpu_slots`): one more child runs than
there are slots, and each stage computes only while it holds one, so no core idles while a seed has work.

Each child is an ordinary run dir: it resumes, reports and answers `sycolab status` on its own. The parent
relays each child's one-line stage summaries, prefixed with its seed, and keeps the child's whole terminal
output in `seed-<N>/logs/terminal.log`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sycolab.errors import StageError, UserError
from sycolab.io import atomic_write_json, atomic_write_text
from sycolab.reporting.seeds import seed_table_text
from sycolab.study.child_process import die_with_parent
from sycolab.study.cpu_slots import slots_environment

SEEDS_FILE = "seeds.json"
SLOTS_FOLDER = "cpu-slots"
"""RUN_DIR/cpu-slots/: the lock files of the seeds' CPU slots (`sycolab.study.cpu_slots`)."""


def seed_dir(run_dir: Path, seed: int) -> Path:
    return Path(run_dir) / f"seed-{seed}"


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def seed_processes(n_seeds: int, cpu_slots: int) -> int:
    """How many seed studies are alive at once: one more than the CPU slots (a process between stages, or
    waiting for a slot, leaves its core to the spare one), at most one per seed."""
    return max(1, min(n_seeds, cpu_slots + 1))


@dataclass(frozen=True)
class SeedRun:
    seed: int
    run_dir: Path
    returncode: int
    tail: str  # the last lines of the child's output, for an error message


def seed_overrides(overrides: list[str], seed: int) -> list[str]:
    """The `--set` items of one seed's study: the study's own, then its seed for world and training, alone."""
    return [*overrides, f"seed={seed}", f"world.seed={seed}", "seeds=[]"]


def child_command(config: str, run_dir: Path, seed: int, overrides: list[str], stages: str | None,
                  force: bool, rejudge_unscored: bool = False) -> list[str]:
    """The `sycolab run` command line of one seed's study."""
    cmd = [sys.executable, "-m", "sycolab.cli.main", "run", config, "--run-dir", str(seed_dir(run_dir, seed))]
    for item in seed_overrides(overrides, seed):
        cmd += ["--set", item]
    if stages:
        cmd += ["--stages", stages]
    if force:
        cmd.append("--force")
    if rejudge_unscored:
        cmd.append("--rejudge-unscored")
    return cmd


def run_seeds(config: str, run_dir: Path, seeds: list[int], overrides: list[str], *, stages: str | None = None,
              force: bool = False, rejudge_unscored: bool = False, parallel: int | None = None,
              threads_per_seed: int = 1, stages_per_seed: int | None = None, processes: int | None = None,
              say: Callable[[str], None] = print) -> list[SeedRun]:
    """Run one study per seed, each child with `threads_per_seed` torch threads, `parallel` stages computing at
    once over all seeds (CPU slots; default one per available core) and `processes` children alive at once
    (default `seed_processes`: one more than the slots; `benchmarks.bench_seed_schedule` sets it to the slots,
    the schedule before slots); on a terminal, one bar per seed counts its `stages_per_seed` stages with the time
    left. Raises StageError naming every seed that failed."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / SEEDS_FILE, {"config": config, "seeds": seeds, "overrides": overrides})
    cpu_slots = max(1, parallel or available_cores())
    slots = threading.Semaphore(processes or seed_processes(len(seeds), cpu_slots))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads_per_seed), "MKL_NUM_THREADS": str(threads_per_seed),
           **slots_environment(run_dir / SLOTS_FOLDER, cpu_slots)}
    results: dict[int, SeedRun] = {}
    lock = threading.Lock()

    def one(seed: int) -> None:
        from sycolab.console import progress_bar

        with slots:
            cmd = child_command(config, run_dir, seed, overrides, stages, force, rejudge_unscored)
            log = seed_dir(run_dir, seed) / "logs" / "terminal.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            lines: list[str] = []
            bar = progress_bar(stages_per_seed or 0, f"seed {seed}", unit="stage", position=seeds.index(seed))
            with open(log, "w", encoding="utf-8") as fh:
                proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        preexec_fn=die_with_parent)  # killing the parent stops its seeds
                assert proc.stdout is not None
                for line in proc.stdout:
                    fh.write(line)
                    fh.flush()
                    lines.append(line.rstrip("\n"))
                    if line.startswith("  ["):
                        with lock:
                            say(f"  [seed {seed}] {line.strip()}")
                            bar.update(1)
                code = proc.wait()
            bar.close()
            results[seed] = SeedRun(seed, seed_dir(run_dir, seed), code, "\n".join(lines[-15:]))

    threads = [threading.Thread(target=one, args=(s,), name=f"seed-{s}") for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = [results[s] for s in seeds]
    failed = [r for r in runs if r.returncode != 0]
    if failed:
        details = "\n".join(f"seed {r.seed} (exit {r.returncode}; {r.run_dir}/logs/terminal.log):\n{r.tail}" for r in failed)
        if all(r.returncode == UserError.exit_code for r in failed):
            # every failure is the user's to fix (a bad input or a failed gate): the study exits 2 as one seed would
            raise UserError(f"{len(failed)} of {len(runs)} seed studies stopped on their input or a gate; fix what each "
                            f"says and rerun the same command to resume them.\n{details}")
        raise StageError(f"{len(failed)} of {len(runs)} seed studies failed; rerun the same command to resume them.\n{details}")
    return runs


def write_seed_summary(run_dir: Path, seeds: list[int]) -> tuple[Path, str]:
    """The seed-aggregated table, written to RUN_DIR/report/seeds.md; returns (path, text)."""
    text = seed_table_text({s: seed_dir(run_dir, s) for s in seeds})
    path = atomic_write_text(Path(run_dir) / "report" / "seeds.md", "```\n" + text + "```\n")
    return path, text
