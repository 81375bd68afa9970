"""The study as a stage graph: world -> base -> induce (sft) -> recover (each method / sweep cell)
-> eval (every model) -> probe -> steer -> relearn -> report. Each stage reads and writes the run store
only, so any stage can be re-run alone, and a finished stage whose inputs are unchanged is skipped on
resume. Stage bodies live beside this module (`training`, `evaluate`, `probe`, `steer`, `relearn`) and
receive a narrow context, never the `Study`; the report stage is `sycolab.reporting.build_report`."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sycolab.config import (
    MethodCell,
    config_error,
    dump_config,
    produced_models,
    recover_cells,
    validate_config,
)
from sycolab.config.schema import StudyConfig
from sycolab.cpu_numerics import cpu_numerics
from sycolab.errors import StageError, UserError
from sycolab.io import atomic_write_text
from sycolab.methods.registry import get_method
from sycolab.reporting import build_report
from sycolab.store import RunStore, generation_settings, judge_settings
from sycolab.study.contexts import (
    EVAL_DATA,
    RECOVER_DATA,
    WORLD_FILES,
    DataFiles,
    EvalContext,
    ModelLoading,
    ProbeContext,
    RelearnContext,
    SteerContext,
    TrainContext,
)
from sycolab.study.evaluate import evaluate_stored_model
from sycolab.study.executors import StageRun, make_executor
from sycolab.study.inputs import check_inputs
from sycolab.study.probe import probe_study
from sycolab.study.relearn import relearn_model, relearn_models
from sycolab.study.stages import Stage, StageInputs, StageOutcome, run_stage
from sycolab.study.steer import CHOICE_FILE, STEER_DIR, evaluate_steered, run_steering, steered_name
from sycolab.study.training import (
    check_stance_gate,
    evaluates_checkpoints,
    run_base,
    run_world,
    tiny_base_settings,
    train_model,
)

log = logging.getLogger(__name__)

STAGE_GROUPS = ("world", "base", "induce", "recover", "eval", "probe", "relearn", "report")


@dataclass
class Study:
    """A loaded config bound to a run store: it builds the stage graph (slices, upstream, inputs: the stage
    keys) and, when a stage runs, gives its body a narrow context (`sycolab.study.contexts`)."""

    cfg: StudyConfig
    store: RunStore
    keys: dict[str, str] = field(default_factory=dict)
    rejudge_unscored: bool = False  # eval stages rerun and ask the judge again about cached unparseable replies
    inputs_checked: bool = False  # validate_inputs already passed (the CLI checks before it creates the run dir)

    # -- what the stages are given --------------------------------------------------------------
    @property
    def data(self) -> DataFiles:
        """Where each data set is read from (`sycolab.study.contexts.DataFiles`)."""
        return DataFiles(self.cfg.data.model_dump(), self.store.world_dir)

    @property
    def loading(self) -> ModelLoading:
        base = self.cfg.base
        return ModelLoading(base.dtype, base.trust_remote_code, base.attn_implementation, self.cfg.execution.device)

    def eval_context(self) -> EvalContext:
        return EvalContext(self.store, self.cfg.evaluate, self.data, self.loading, self.rejudge_unscored)

    def probe_context(self) -> ProbeContext:
        return ProbeContext(self.eval_context(), self.cfg.probe, self.evaluated_models(),
                            functools.partial(config_error, self.cfg))

    def steer_context(self) -> SteerContext:
        return SteerContext(self.eval_context(), self.cfg.probe)

    def relearn_context(self) -> RelearnContext:
        return RelearnContext(self.eval_context(), self.cfg.relearn, self.cfg.methods.induce,
                              self.induce_data, self.cfg.seed, self.cfg.execution)

    def inputs(self, data: tuple[str, ...] = (), seed: bool = False, judge: bool = False,
               generation: bool = False, tiny_base: bool = False, numerics: bool = False,
               files: dict[str, Path] | None = None) -> Callable[[], StageInputs]:
        """A stage's `inputs` callback: the named data files (content-hashed when the key is computed;
        `files`: other files by name, e.g. a method's constitution) and the settings that decide its result
        (with `tiny_base`, the tokenizer's vocabulary and the base gate's world: `tiny_base_settings`; with
        `numerics`, the CPU numerics in effect: `sycolab.cpu_numerics.cpu_numerics`)."""
        def build() -> StageInputs:
            settings: dict[str, Any] = {}
            if numerics:
                settings["cpu_numerics"] = cpu_numerics()
            if seed:
                settings["seed"] = self.cfg.seed
            if judge:
                settings["judge"] = judge_settings(self.cfg.evaluate.judge)
            if generation:
                settings["generation"] = generation_settings(self.cfg.evaluate.generation)
            if tiny_base:
                settings.update(tiny_base_settings(self.store.world_dir, self.cfg.world))
            paths = {n: self.data.location(n) for n in data}
            paths.update(files or {})
            return StageInputs(data=paths, settings=settings, root=self.store.root)
        return build

    @property
    def induce_data(self) -> tuple[str, ...]:
        """The SFT stage's data: its training rows (`data_key`, default "sft") and the proxy items."""
        key = self.cfg.methods.induce.data_key
        return tuple(dict.fromkeys([key if key in WORLD_FILES else "sft", "proxy"]))

    @property
    def needs_world(self) -> bool:
        return self.cfg.uses_tiny_world or any(getattr(self.cfg.data, n) is None for n in type(self.cfg.data).model_fields)

    # -- stages --------------------------------------------------------------------------------
    def stages(self) -> list[tuple[str, Stage]]:
        """(group, stage) in execution order."""
        cfg = self.cfg
        out: list[tuple[str, Stage]] = []
        if self.needs_world:
            out.append(("world", Stage("world", cfg.world.model_dump(mode="json"), [],
                                       lambda: run_world(cfg.world, self.store.world_dir))))
        base_slice = cfg.base.model_dump(mode="json")
        tiny = cfg.uses_tiny_world
        # Not downstream of the world stage: a tiny base depends on the world only through its inputs (the
        # base corpus, the vocabulary, the gate's facts), so one trained base serves every SFT or preference
        # setting of a world seed.
        # Every trained or evaluated model descends from the base, so the CPU numerics in its key reach them all.
        base_inputs = self.inputs(("base_corpus", "proxy") if tiny else (), seed=tiny, tiny_base=tiny, numerics=True)
        out.append(("base", Stage("base", base_slice, [],
                                  lambda: run_base(self.train_context(), cfg.base, cfg.methods.base_train, tiny), inputs=base_inputs,
                                  reads=["world"] if tiny else [])))
        induce_data = self.induce_data
        induce_cfg = cfg.methods.induce
        out.append(("induce", Stage("train:sft", self._method_slice(cfg.induce, induce_cfg),
                                    ["base", *(["world"] if self.needs_world else [])],
                                    lambda: self._induce(induce_cfg, induce_data, tiny),
                                    inputs=self._method_inputs(induce_data, induce_cfg))))
        cells = recover_cells(cfg)
        by_method = {c.method: c for c in cells}
        for cell in cells:
            upstream = ["train:sft", *(["world"] if self.needs_world else [])]
            spec = get_method(cell.method)
            for need in spec.needs:
                if need not in by_method:
                    raise UserError(f"recover.{cell.entry}: method '{cell.method}' needs a '{need}' entry in recover")
                upstream.append(f"train:{by_method[need].name}")
            out.append(("recover", Stage(f"train:{cell.name}", self._recover_slice(cell), upstream,
                                         self._recover_runner(cell, by_method), inputs=self._recover_inputs(cell))))
        for name in self.evaluated_models():
            out.append(("eval", self.eval_stage(name)))
        if cfg.probe.enabled:
            out.append(("probe", Stage("probe", cfg.probe.model_dump(mode="json", exclude={"steering"}),
                                       [f"eval:{n}" for n in self.evaluated_models()], self._run_probe,
                                       inputs=self.inputs(("answer", "proxy"), judge=True, generation=True))))
            out.extend(("probe", stage) for stage in self.steering_stages())
        if cfg.relearn.enabled:
            out.extend(("relearn", self.relearn_stage(name))
                       for name in relearn_models(self.cfg.relearn, self.evaluated_models()))
        out.append(("report", Stage("report", cfg.report.model_dump(mode="json"),
                                    [s.name for _, s in out], self._run_report)))
        return out

    def eval_stage(self, name: str) -> Stage:
        """The stage evaluating stored model `name`: keyed by the evaluate section (judge and generation
        settings as named inputs), the evaluation and proxy data files' contents, and the model's stage."""
        cfg = self.cfg.evaluate
        data = EVAL_DATA + (("proxy",) if cfg.proxy.enabled else ())
        return Stage(f"eval:{name}", cfg.model_dump(mode="json", exclude={"judge", "generation"}),
                     [f"train:{name}" if name != "base" else "base"], lambda: self._run_eval(name),
                     inputs=self.inputs(data, judge=True, generation=True), force=self.rejudge_unscored)

    def steering_stages(self) -> list[Stage]:
        """`steer` (direction and alpha sweep on the tuning questions, `sycolab.study.steer`) and, with
        `probe.steering.evaluate`, `eval:<source>+steer` (the steered model on every behaviour). The sweep is
        keyed by the steering section, the probe stage and the evaluation data (the answer questions and the
        selection slice of all three sets), judge and generation; the
        evaluation by the evaluate section, the evaluation data, judge, generation and steer/choice.json's
        content (layer, alpha, direction), so a changed choice re-evaluates."""
        probe = self.cfg.probe
        if not probe.steering.enabled:
            return []
        source = probe.transfer_from
        slice_ = {"steering": probe.steering.model_dump(mode="json"), "source": source, "seed": probe.seed,
                  "exclude_hedged": probe.exclude_hedged}
        stages = [Stage("steer", slice_, ["probe", f"eval:{source}"], lambda: run_steering(self.steer_context()),
                        inputs=self.inputs(EVAL_DATA, judge=True, generation=True))]
        if probe.steering.evaluate:
            cfg = self.cfg.evaluate
            data = EVAL_DATA + (("proxy",) if cfg.proxy.enabled else ())
            choice = {"steering": self.store.root / STEER_DIR / CHOICE_FILE}
            stages.append(Stage(f"eval:{steered_name(source)}", cfg.model_dump(mode="json", exclude={"judge", "generation"}),
                                ["steer"], lambda: evaluate_steered(self.steer_context()),
                                inputs=self.inputs(data, judge=True, generation=True, files=choice),
                                force=self.rejudge_unscored))
        return stages

    def relearn_stage(self, name: str) -> Stage:
        """Relearning from stored model `name` (`sycolab.study.relearn`): keyed by the relearn, induce and
        evaluate sections (less `expected_rating`, which its mini-evaluations do not compute), the SFT and
        evaluation data, the seed, the judge and the generation settings."""
        data = (*self.induce_data, "answer", "are_you_sure")
        slice_ = {"relearn": self.cfg.relearn.model_dump(mode="json", exclude={"models", "enabled", "keep_checkpoints"}),
                  "induce": self.cfg.induce, "evaluate": self.cfg.evaluate.model_dump(mode="json", exclude={"judge", "generation", "expected_rating"})}
        upstream = ["base" if name == "base" else f"train:{name}", *(["world"] if self.needs_world else [])]
        return Stage(f"relearn:{name}", slice_, upstream, lambda: relearn_model(self.relearn_context(), name),
                     inputs=self.inputs(data, seed=True, judge=True, generation=True))

    def evaluated_models(self) -> list[str]:
        return produced_models(self.cfg)

    def validate_inputs(self, groups: set[str] | None = None) -> None:
        """Check every input outside the config file before any stage runs (data files parse, the judge's
        key variable is set, probe layers fit the model): one ConfigError with file, line and key for all."""
        check_inputs(self, groups)
        eval_files = {n: self.data.path(n) for n in ("answer", "are_you_sure", "feedback") if getattr(self.cfg.data, n)}
        if eval_files and self.cfg.evaluate.judge.kind == "rule" and (groups is None or "eval" in groups):
            from sycolab.evaluation.scope import check_rule_judge_files

            check_rule_judge_files(eval_files, self.store.world_dir / "world.json")
        if eval_files and self.cfg.evaluate.selection_questions:
            from sycolab.data.sycophancy_eval import load_eval_items
            from sycolab.evaluation.selection import slice_problems

            problems = slice_problems(load_eval_items(**eval_files), self.cfg.evaluate.selection_questions)
            if problems:
                raise config_error(self.cfg, [(("evaluate", "selection_questions"), m) for m in problems])
        self.inputs_checked = True

    def run(self, groups: set[str] | None = None, force: bool = False,
            on_outcome: Callable[[StageOutcome], None] | None = None) -> list[StageOutcome]:
        if not self.inputs_checked:
            self.validate_inputs(groups)
        for path in self.store.sweep_leftovers():
            log.info("removed %s (left by a writer that was killed)", path)
        self.store.init(self.cfg.model_dump(mode="json"), self.cfg.seed)
        atomic_write_text(self.store.root / "config.yaml", dump_config(self.cfg))
        todo: list[tuple[str, Stage]] = []
        for group, stage in self.stages():
            if groups and group not in groups:
                prior = self.store.stage(stage.name)
                if prior and prior.get("key"):
                    self.keys[stage.name] = prior["key"]
                continue
            todo.append((group, stage))
        # in-process by default; with execution.executor == "submitit", recover cells and evals run as jobs
        run = StageRun(self.store, self.keys, self.cfg.model_dump(mode="json"))
        executor = make_executor(self.cfg.execution, self.store, run_stage_job)
        outcomes = executor.run(run, todo, force=force, on_outcome=on_outcome)
        self.store.finish()
        return outcomes

    # -- stage bodies --------------------------------------------------------------------------
    def train_context(self) -> TrainContext:
        return TrainContext(self.store, self.data, self.loading, self.cfg.seed, self.cfg.execution,
                            self.cfg.tracking.report_to, self.cfg.evaluate)

    def _induce(self, induce_cfg: Any, induce_data: tuple[str, ...], tiny: bool) -> dict[str, Any]:
        """Stage train:sft: the sycophantic SFT, then (tiny world) the world's stance gate."""
        info = train_model(self.train_context(), "sft", "sft", induce_cfg, parent="base", data=self.data.paths(*induce_data))
        return {**info, **check_stance_gate(self.train_context())} if tiny else info

    def _recover_runner(self, cell: MethodCell, by_method: dict[str, MethodCell]) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            extra = {need: self.store.model_dir(by_method[need].name) for need in get_method(cell.method).needs}
            return train_model(self.train_context(), cell.name, cell.method, cell.config, parent="sft",
                               extra_models=extra)
        return run

    def _recover_slice(self, cell: MethodCell) -> dict[str, Any]:
        """A recovery stage's config slice (`_method_slice`)."""
        return self._method_slice({"method": cell.method, **cell.config.model_dump(mode="json")}, cell.config)

    def _method_slice(self, raw: Any, method_cfg: Any) -> Any:
        """A training stage's config slice: the method's config, plus the evaluation's selection slice when
        the method evaluates checkpoints (the slice decides which questions score its checkpoints)."""
        if not evaluates_checkpoints(method_cfg):
            return raw
        return {**dict(raw), "selection_questions": self.cfg.evaluate.selection_questions}

    def _method_inputs(self, data: tuple[str, ...], method_cfg: Any, files: dict[str, Path] | None = None,
                       ) -> Callable[[], StageInputs]:
        """A training stage's inputs: its data, the seed and the files its config names; a judged checkpoint
        evaluation adds the evaluation sets, judge and generation."""
        judged = evaluates_checkpoints(method_cfg)
        wanted = tuple(dict.fromkeys(data + (EVAL_DATA if judged else ())))
        return self.inputs(wanted, seed=True, judge=judged, generation=judged, files=files)

    def _recover_inputs(self, cell: MethodCell) -> Callable[[], StageInputs]:
        """A recovery stage's inputs: the recovery data (`_method_inputs`)."""
        return self._method_inputs(RECOVER_DATA, cell.config, files=_method_files(cell))

    def _run_eval(self, name: str) -> dict[str, Any]:
        return evaluate_stored_model(self.eval_context(), name)

    def _run_probe(self) -> dict[str, Any]:
        return probe_study(self.probe_context())

    def _run_report(self) -> dict[str, Any]:
        paths = build_report(self.store.root, self.cfg.report)
        return {"outputs": [str(p) for p in paths]}


def run_stage_job(config: dict[str, Any], run_dir: str, stage_name: str, keys: dict[str, str],
                  force: bool = False, threads: int | None = None) -> StageOutcome:
    """The body of one submitted job (`sycolab.study.executors.SubmititExecutor`): rebuild the study, find
    `stage_name`, and `run_stage` it. `threads` (the job's CPUs) caps torch's intra-op threads unless
    OMP_NUM_THREADS says otherwise, so parallel local jobs do not oversubscribe the cores."""
    if threads and "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(threads)

    study = Study(validate_config(config, source=f"{run_dir}/manifest.json"), RunStore(run_dir))
    stage = next((s for _, s in study.stages() if s.name == stage_name), None)
    if stage is None:
        raise StageError(f"stage '{stage_name}' is not part of the study in {run_dir}")
    return run_stage(study.store, stage, dict(keys), force=force)


def _method_files(cell: MethodCell) -> dict[str, Path]:
    """Files a method config names beyond the data sets (`input_files()`, e.g. cai_*'s constitution)."""
    files = getattr(cell.config, "input_files", None)
    return files() if callable(files) else {}
