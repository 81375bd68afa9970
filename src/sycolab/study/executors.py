"""Executors: where the stages of a study run.

`InProcessExecutor` (the default) runs every stage in this process, one after the other.
`SubmititExecutor` runs the stages of the fan-out groups, `recover` (sweep cells) and `eval` (one stage
per model), as submitit jobs: local processes with `cluster: local`, SLURM jobs with `cluster: slurm`
(partition, gpus_per_node, cpus_per_task, mem_gb, timeout_min from `execution.submitit`); the other
stages (world, base, induce, probe, report) stay in this process. A job is the `job_fn` the study passes
(`sycolab.study.pipeline.run_stage_job`): it rebuilds the study from the resolved config and the run dir
and re-enters `run_stage` for its one stage, so the
store stays the single source of truth and resume works as in-process: a cell finished by an earlier
(killed, failed) submission is skipped, an interrupted one is redone. Jobs whose upstream is another job
(grpo needs the reward model) wait for it; when jobs fail, the others still finish, then
`StageJobsFailed` names every failed cell and the log to read.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sycolab.config.sections import ExecutionConfig, SubmititConfig
from sycolab.errors import StageError
from sycolab.store import RunStore
from sycolab.study.stages import Stage, StageOutcome, run_stage

PARALLEL_GROUPS = frozenset({"recover", "eval"})
OnOutcome = Callable[[StageOutcome], None]


@dataclass
class StageRun:
    """What an executor is given of a study: its store, the stage keys known so far (filled in as stages
    run) and the resolved config, from which a submitted job rebuilds its stage."""

    store: RunStore
    keys: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    def run(self, run: StageRun, stages: Sequence[tuple[str, Stage]], force: bool = False,
            on_outcome: OnOutcome | None = None) -> list[StageOutcome]:
        """Run `(group, stage)` pairs (in order, upstream first), recording keys in `run.keys`."""
        ...


class InProcessExecutor:
    """Every stage in this process, in order; the first failure propagates."""

    def run(self, run: StageRun, stages: Sequence[tuple[str, Stage]], force: bool = False,
            on_outcome: OnOutcome | None = None) -> list[StageOutcome]:
        outcomes = []
        for _, stage in stages:
            outcome = run_stage(run.store, stage, run.keys, force=force)
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
        return outcomes


@dataclass(frozen=True)
class FailedStage:
    name: str
    reason: str
    log: str | None = None


class StageJobsFailed(StageError):
    """Some submitted stages failed (or never ran because an upstream job failed)."""

    def __init__(self, failed: list[FailedStage], total: int):
        self.failed = failed
        lines = [f"{len(failed)} of {total} submitted stage(s) failed; rerun the same command to resume "
                 "(finished cells are kept):"]
        for f in failed:
            lines.append(f"  {f.name}: {f.reason}" + (f" (log: {f.log})" if f.log else ""))
        super().__init__("\n".join(lines))


class SubmititExecutor:
    """`recover` and `eval` stages as submitit jobs (local processes or SLURM); the rest in-process.

    `max_parallel` caps the jobs in flight (default: for `cluster: local`, CPU cores / cpus_per_task;
    unlimited on SLURM, whose scheduler queues them). `poll_s` is how often job states are checked. `job_fn`
    runs one stage in a job: `job_fn(config, run_dir, stage_name, keys, force, threads) -> StageOutcome`
    (`sycolab.study.pipeline.run_stage_job`).
    """

    def __init__(self, cfg: SubmititConfig, folder: Path, *, job_fn: Callable[..., StageOutcome],
                 max_parallel: int | None = None, poll_s: float = 1.0):
        self.cfg, self.folder, self.poll_s, self.job_fn = cfg, Path(folder), poll_s, job_fn
        if max_parallel is None and cfg.cluster == "local":
            max_parallel = max(1, (os.cpu_count() or 1) // cfg.cpus_per_task)
        self.max_parallel = max_parallel
        self._executor: Any = None

    # -- submitit plumbing -----------------------------------------------------------------------
    def submitit_parameters(self) -> dict[str, Any]:
        """Parameters for `submitit.AutoExecutor.update_parameters` (generic names; SLURM-only ones prefixed)."""
        cfg = self.cfg
        params: dict[str, Any] = {"timeout_min": cfg.timeout_min, "cpus_per_task": cfg.cpus_per_task,
                                  "gpus_per_node": cfg.gpus_per_node, "nodes": 1, "tasks_per_node": 1}
        if cfg.mem_gb is not None:
            params["mem_gb"] = cfg.mem_gb
        if cfg.partition is not None:
            params["slurm_partition"] = cfg.partition
        return params

    def _submitit(self) -> Any:
        if self._executor is None:
            import submitit

            cluster = None if self.cfg.cluster == "auto" else self.cfg.cluster
            self._executor = submitit.AutoExecutor(folder=self.folder, cluster=cluster)
            self._executor.update_parameters(**self.submitit_parameters())
        return self._executor

    def submit(self, stage: Stage, run: StageRun, force: bool) -> Any:
        executor = self._submitit()
        executor.update_parameters(name=job_name(stage.name))
        return executor.submit(self.job_fn, run.config, str(run.store.root.resolve()),
                               stage.name, dict(run.keys), force, self.cfg.cpus_per_task)

    # -- scheduling --------------------------------------------------------------------------------
    def run(self, run: StageRun, stages: Sequence[tuple[str, Stage]], force: bool = False,
            on_outcome: OnOutcome | None = None) -> list[StageOutcome]:
        outcomes: list[StageOutcome] = []
        inprocess = InProcessExecutor()
        for group, batch in _consecutive_groups(stages):
            if group in PARALLEL_GROUPS:
                outcomes += self.run_batch(run, batch, force, on_outcome)
            else:
                outcomes += inprocess.run(run, [(group, s) for s in batch], force, on_outcome)
        return outcomes

    def run_batch(self, run: StageRun, batch: list[Stage], force: bool = False,
                  on_outcome: OnOutcome | None = None) -> list[StageOutcome]:
        """Submit `batch` as jobs, each once its upstream jobs in the batch succeeded; wait for all.

        A stage already done with the same key is skipped here without a job. Raises `StageJobsFailed`
        naming every failed stage after the others have finished. If this process is interrupted while
        waiting, the jobs in flight are cancelled.
        """
        state = _BatchState(pending=list(batch))
        try:
            while state.pending or state.running:
                self._submit_ready(run, state, force, on_outcome)
                self._collect_finished(run, state, on_outcome)
                if state.running:
                    time.sleep(self.poll_s)
        except BaseException:
            for _, job, _ in state.running:
                with contextlib.suppress(Exception):
                    job.cancel(check=False)
            raise
        if state.failed:
            raise StageJobsFailed(state.failed, len(batch))
        return state.outcomes

    def _submit_ready(self, run: StageRun, state: _BatchState, force: bool, on_outcome: OnOutcome | None) -> None:
        in_flight = {s.name for s in state.pending} | {s.name for s, _, _ in state.running}
        failed = {f.name for f in state.failed}
        for stage in list(state.pending):
            bad = [u for u in stage.upstream if u in failed]
            if bad:
                state.pending.remove(stage)
                state.failed.append(FailedStage(stage.name, f"not run: upstream {', '.join(bad)} failed"))
                continue
            waiting = [u for u in stage.upstream if u in in_flight]
            if waiting or (self.max_parallel is not None and len(state.running) >= self.max_parallel):
                continue
            state.pending.remove(stage)
            key = stage.key(run.keys)
            run.keys[stage.name] = key
            prior = run.store.stage(stage.name)
            if not force and prior and prior.get("status") == "done" and prior.get("key") == key:
                state.finish(StageOutcome(stage.name, "skipped", 0.0, prior.get("info")), on_outcome)
                continue
            state.running.append((stage, self.submit(stage, run, force), key))

    def _collect_finished(self, run: StageRun, state: _BatchState, on_outcome: OnOutcome | None) -> None:
        still = []
        for stage, job, key in state.running:
            if not job.done():
                still.append((stage, job, key))
                continue
            try:
                outcome = job.result()
            except Exception as e:  # noqa: BLE001 - every job failure is reported by name
                state.failed.append(FailedStage(stage.name, describe_failure(e), _job_log(job)))
                continue
            recorded = (run.store.stage(stage.name) or {}).get("key")
            if recorded != key:
                state.failed.append(FailedStage(stage.name, f"job ran with stage key {recorded}, expected {key} "
                                                "(the config did not survive the trip to the job)", _job_log(job)))
                continue
            state.finish(outcome, on_outcome)
        state.running = still


@dataclass
class _BatchState:
    pending: list[Stage]
    running: list[tuple[Stage, Any, str]] = field(default_factory=list)  # (stage, job, expected key)
    failed: list[FailedStage] = field(default_factory=list)
    outcomes: list[StageOutcome] = field(default_factory=list)

    def finish(self, outcome: StageOutcome, on_outcome: OnOutcome | None) -> None:
        self.outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)


def make_executor(execution: ExecutionConfig, store: RunStore, job_fn: Callable[..., StageOutcome]) -> Executor:
    """The executor `execution.executor` names (submitted jobs run `job_fn`); submitit job folders go under
    the run dir unless `execution.submitit.folder` is absolute."""
    if execution.executor == "submitit":
        folder = Path(execution.submitit.folder)
        return SubmititExecutor(execution.submitit, folder if folder.is_absolute() else store.root / folder,
                                job_fn=job_fn)
    return InProcessExecutor()


def job_name(stage_name: str) -> str:
    """A scheduler-safe job name: `sycolab-train-dpo_beta_0.5_` for `train:dpo[beta=0.5]`."""
    return "sycolab-" + re.sub(r"[^A-Za-z0-9_.-]", "_", stage_name.replace(":", "-"))


def describe_failure(error: BaseException) -> str:
    """One line for a failed job: the exception a job raised (the last `Name: message` line of the remote
    traceback submitit reports), or, for a job that died without a result (killed, timed out), that fact
    and the scheduler state."""
    from submitit.core.utils import FailedJobError, UncompletedJobError

    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    if isinstance(error, UncompletedJobError) and not isinstance(error, FailedJobError):
        state = next((ln[ln.index("(state:") + 1:].rstrip(")") for ln in lines if "(state:" in ln), "")
        return "job ended without a result (killed or timed out" + (f"; {state})" if state else ")")
    raised = [ln for ln in lines if _EXCEPTION_LINE.match(ln)]
    if raised:
        return raised[-1][:300]
    return (lines[-1] if lines else type(error).__name__)[:300]


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b(:|$)")


def _job_log(job: Any) -> str | None:
    try:
        return str(job.paths.stderr)
    except Exception:  # noqa: BLE001 - a missing path is not worth failing over
        return None


def _consecutive_groups(stages: Sequence[tuple[str, Stage]]) -> list[tuple[str, list[Stage]]]:
    runs: list[tuple[str, list[Stage]]] = []
    for group, stage in stages:
        if runs and runs[-1][0] == group:
            runs[-1][1].append(stage)
        else:
            runs.append((group, [stage]))
    return runs
