"""The study as a stage graph: world -> base -> induce (sft) -> recover (each method / sweep cell)
-> eval (every model) -> probe -> report. Each stage reads and writes the run store only, so any stage
can be re-run alone, and a finished stage whose inputs are unchanged is skipped on resume."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sycolab.config import MethodCell, dump_config, produced_models, recover_cells
from sycolab.config.schema import StudyConfig
from sycolab.errors import UserError
from sycolab.io import atomic_dir, atomic_write_text, iter_jsonl
from sycolab.methods.registry import MethodContext, get_method
from sycolab.study.relearn import relearn_model, relearn_models
from sycolab.study.stages import Stage, StageInputs, StageOutcome
from sycolab.study.store import RunStore, write_model_record

log = logging.getLogger(__name__)

STAGE_GROUPS = ("world", "base", "induce", "recover", "eval", "probe", "relearn", "report")

RECOVER_DATA = ("preference", "preference_heldout", "grpo_prompts", "proxy")
"""Data files a recovery method may read (preference pairs, the reward model's held-out pairs and GRPO
prompts, the logit-proxy items); every recovery stage's key covers all four."""
EVAL_DATA = ("answer", "are_you_sure", "feedback")

WORLD_FILES = {
    "answer": "eval/answer.jsonl",
    "are_you_sure": "eval/are_you_sure.jsonl",
    "feedback": "eval/feedback.jsonl",
    "base_corpus": "train/base_corpus.jsonl",
    "sft": "train/sft_sycophantic.jsonl",
    "preference": "train/preference_pairs.jsonl",
    "preference_heldout": "train/preference_heldout.jsonl",
    "grpo_prompts": "train/grpo_prompts.jsonl",
    "proxy": "heldout/proxy.jsonl",
}


@dataclass
class Study:
    """A loaded config bound to a run store."""

    cfg: StudyConfig
    store: RunStore
    keys: dict[str, str] = field(default_factory=dict)
    rejudge_unscored: bool = False  # eval stages rerun and ask the judge again about cached unparseable replies
    inputs_checked: bool = False  # validate_inputs already passed (the CLI checks before it creates the run dir)

    # -- data ----------------------------------------------------------------------------------
    def data_path(self, name: str) -> Path:
        """The file for data set `name`: the config's `data.<name>` if set, else the tiny world's."""
        given = getattr(self.cfg.data, name, None)
        if given:
            path = Path(given)
            if not path.exists():
                raise UserError(f"data.{name}: file '{given}' not found")
            return path
        return self.store.world_dir / WORLD_FILES[name]

    def data_paths(self, *names: str) -> dict[str, Path]:
        return {n: self.data_path(n) for n in names}

    def data_location(self, name: str) -> Path:
        """Where data set `name` is read from, whether or not the file exists yet (for stage keys)."""
        given = getattr(self.cfg.data, name, None)
        return Path(given) if given else self.store.world_dir / WORLD_FILES[name]

    def inputs(self, data: tuple[str, ...] = (), seed: bool = False, judge: bool = False,
               generation: bool = False, tokenizer_corpus: bool = False,
               files: dict[str, Path] | None = None) -> Callable[[], StageInputs]:
        """A stage's `inputs` callback: the named data files (content-hashed when the key is computed; with
        `tokenizer_corpus`, every world file the tiny tokenizer reads; `files`: other files by name, e.g. a
        method's constitution) and the settings that decide its result."""
        def build() -> StageInputs:
            settings: dict[str, Any] = {}
            if seed:
                settings["seed"] = self.cfg.seed
            if judge:
                from sycolab.study.provenance import judge_settings

                settings["judge"] = judge_settings(self.cfg.evaluate.judge)
            if generation:
                from sycolab.study.provenance import generation_settings

                settings["generation"] = generation_settings(self.cfg.evaluate.generation)
            paths = {n: self.data_location(n) for n in data}
            if tokenizer_corpus:
                paths.update(self.tokenizer_corpus())
            paths.update(files or {})
            return StageInputs(data=paths, settings=settings, root=self.store.root)
        return build

    @property
    def induce_data(self) -> tuple[str, ...]:
        """The SFT stage's data: its training rows (`data_key`, default "sft") and the proxy items."""
        key = self.cfg.methods.induce.data_key
        return tuple(dict.fromkeys([key if key in WORLD_FILES else "sft", "proxy"]))

    def tokenizer_corpus(self) -> dict[str, Path]:
        """The world files the tiny tokenizer is trained on (every JSONL file of the world)."""
        if not self.store.world_dir.exists():
            return {}
        return {f"tokenizer:{p.relative_to(self.store.world_dir)}": p
                for p in sorted(self.store.world_dir.rglob("*.jsonl"))}

    @property
    def needs_world(self) -> bool:
        return self.cfg.uses_tiny_world or any(getattr(self.cfg.data, n) is None for n in type(self.cfg.data).model_fields)

    @property
    def device(self) -> str:
        import torch

        if self.cfg.execution.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.cfg.execution.device

    # -- stages --------------------------------------------------------------------------------
    def stages(self) -> list[tuple[str, Stage]]:
        """(group, stage) in execution order."""
        cfg = self.cfg
        out: list[tuple[str, Stage]] = []
        if self.needs_world:
            out.append(("world", Stage("world", cfg.world.model_dump(mode="json"), [], self._run_world)))
        base_slice = cfg.base.model_dump(mode="json")
        tiny = cfg.uses_tiny_world
        base_inputs = self.inputs(("base_corpus", "proxy") if tiny else (), seed=tiny, tokenizer_corpus=tiny)
        out.append(("base", Stage("base", base_slice, ["world"] if self.needs_world else [], self._run_base,
                                  inputs=base_inputs)))
        induce_data = self.induce_data
        induce_cfg = cfg.methods.induce
        out.append(("induce", Stage("train:sft", self._method_slice(cfg.induce, induce_cfg),
                                    ["base", *(["world"] if self.needs_world else [])],
                                    lambda: self._train("sft", "sft", induce_cfg, parent="base",
                                                        data=self.data_paths(*induce_data)),
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
            out.extend(("relearn", self.relearn_stage(name)) for name in relearn_models(self))
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
        from sycolab.study.steer import CHOICE_FILE, STEER_DIR, evaluate_steered, run_steering, steered_name

        probe = self.cfg.probe
        if not probe.steering.enabled:
            return []
        source = probe.transfer_from
        slice_ = {"steering": probe.steering.model_dump(mode="json"), "source": source, "seed": probe.seed,
                  "exclude_hedged": probe.exclude_hedged}
        stages = [Stage("steer", slice_, ["probe", f"eval:{source}"], lambda: run_steering(self),
                        inputs=self.inputs(EVAL_DATA, judge=True, generation=True))]
        if probe.steering.evaluate:
            cfg = self.cfg.evaluate
            data = EVAL_DATA + (("proxy",) if cfg.proxy.enabled else ())
            choice = {"steering": self.store.root / STEER_DIR / CHOICE_FILE}
            stages.append(Stage(f"eval:{steered_name(source)}", cfg.model_dump(mode="json", exclude={"judge", "generation"}),
                                ["steer"], lambda: evaluate_steered(self),
                                inputs=self.inputs(data, judge=True, generation=True, files=choice),
                                force=self.rejudge_unscored))
        return stages

    def relearn_stage(self, name: str) -> Stage:
        """Relearning from stored model `name` (`sycolab.study.relearn`): keyed by the relearn, induce and
        evaluate sections, the SFT and evaluation data, the seed, the judge and the generation settings."""
        data = (*self.induce_data, "answer", "are_you_sure")
        slice_ = {"relearn": self.cfg.relearn.model_dump(mode="json", exclude={"models", "enabled", "keep_checkpoints"}),
                  "induce": self.cfg.induce, "evaluate": self.cfg.evaluate.model_dump(mode="json", exclude={"judge", "generation"})}
        upstream = ["base" if name == "base" else f"train:{name}", *(["world"] if self.needs_world else [])]
        return Stage(f"relearn:{name}", slice_, upstream, lambda: relearn_model(self, name),
                     inputs=self.inputs(data, seed=True, judge=True, generation=True))

    def evaluated_models(self) -> list[str]:
        return produced_models(self.cfg)

    def validate_inputs(self, groups: set[str] | None = None) -> None:
        """Check every input outside the config file before any stage runs (data files parse, the judge's
        key variable is set, probe layers fit the model): one ConfigError with file, line and key for all."""
        from sycolab.study.inputs import check_inputs

        check_inputs(self, groups)
        eval_files = {n: self.data_path(n) for n in ("answer", "are_you_sure", "feedback") if getattr(self.cfg.data, n)}
        if eval_files and self.cfg.evaluate.judge.kind == "rule" and (groups is None or "eval" in groups):
            from sycolab.evaluation.scope import check_rule_judge_files

            check_rule_judge_files(eval_files, self.store.world_dir / "world.json")
        if eval_files and self.cfg.evaluate.selection_questions:
            from sycolab.config.load import config_error
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
        from sycolab.study.executors import make_executor

        todo: list[tuple[str, Stage]] = []
        for group, stage in self.stages():
            if groups and group not in groups:
                prior = self.store.stage(stage.name)
                if prior and prior.get("key"):
                    self.keys[stage.name] = prior["key"]
                continue
            todo.append((group, stage))
        # in-process by default; with execution.executor == "submitit", recover cells and evals run as jobs
        outcomes = make_executor(self.cfg.execution, self.store).run(self, todo, force=force, on_outcome=on_outcome)
        self.store.finish()
        return outcomes

    # -- stage bodies --------------------------------------------------------------------------
    def _run_world(self) -> dict[str, Any]:
        from sycolab.world import generate_world

        with atomic_dir(self.store.world_dir) as tmp:
            summary = generate_world(self.cfg.world, tmp)
        return _as_info(summary)

    def _run_base(self) -> dict[str, Any]:
        cfg = self.cfg
        if not cfg.uses_tiny_world:
            from sycolab.models.digest import weights_sha256
            from sycolab.models.load import relative_base_model

            local = Path(cfg.base.model).is_dir()  # a checkpoint folder is identified by content, a hub id by name
            with atomic_dir(self.store.model_dir("base")) as out:
                write_model_record(out, "base", "pretrained", None, {"model": cfg.base.model},
                                   base_model=relative_base_model(cfg.base.model, self.store.model_dir("base")),
                                   stage_key=(self.store.stage("base") or {}).get("key"),
                                   weights_sha256=weights_sha256(cfg.base.model) if local else f"hub:{cfg.base.model}")
            return {"model": cfg.base.model}
        from sycolab.models.tiny import build_tiny_model
        from sycolab.models.tokenizer import train_word_tokenizer

        tokenizer = train_word_tokenizer(corpus_texts(sorted(self.store.world_dir.rglob("*.jsonl"))))
        init_dir = self.store.training_dir("base") / "init"
        model = build_tiny_model(cfg.base.tiny, tokenizer, seed=cfg.seed)
        model.save_pretrained(init_dir)
        tokenizer.save_pretrained(init_dir)
        n_params = sum(p.numel() for p in model.parameters())
        train_cfg = cfg.methods.base_train
        info = self._train("base", "sft", train_cfg, parent=None, input_model=init_dir,
                           data={"sft": self.data_path("base_corpus"), "proxy": self.data_path("proxy")})
        return {"parameters": n_params, "vocab_size": len(tokenizer), **info}

    def _recover_runner(self, cell: MethodCell, by_method: dict[str, MethodCell]) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            extra = {need: self.store.model_dir(by_method[need].name) for need in get_method(cell.method).needs}
            return self._train(cell.name, cell.method, cell.config, parent="sft", extra_models=extra)
        return run

    def _train(self, name: str, method: str, method_cfg: Any, parent: str | None, input_model: Path | None = None,
               data: dict[str, Path] | None = None, extra_models: dict[str, Path] | None = None) -> dict[str, Any]:
        from sycolab.study.launch import run_method

        spec = get_method(method)
        input_model = input_model or self.store.model_dir(parent or "base")
        data = data or self.data_paths(*RECOVER_DATA)
        with atomic_dir(self.store.model_dir(name)) as out:
            ctx = MethodContext(
                name=name, config=method_cfg, input_model=input_model, output_dir=out,
                work_dir=self.store.training_dir(name), data=data, seed=self.cfg.seed,
                reference_model=self.store.model_dir("sft") if parent == "sft" else None,
                extra_models=extra_models or {}, dtype=self.cfg.base.dtype,
                trust_remote_code=self.cfg.base.trust_remote_code,
                attn_implementation=self.cfg.base.attn_implementation, report_to=self.cfg.tracking.report_to,
                use_cpu=self.device == "cpu", **self._checkpoint_evaluation(method_cfg),
            )
            result = run_method(spec, ctx, self.cfg.execution)
            self._write_record(out, name, method, parent, method_cfg.model_dump(mode="json"), input_model)
        info = _as_info(result)
        if "model_dir" in info:  # the method saw the temporary folder; record where the model now lives
            info["model_dir"] = str(self.store.model_dir(name))
        return info

    def _recover_slice(self, cell: MethodCell) -> dict[str, Any]:
        """A recovery stage's config slice (`_method_slice`)."""
        return self._method_slice({"method": cell.method, **cell.config.model_dump(mode="json")}, cell.config)

    def _method_slice(self, raw: Any, method_cfg: Any) -> Any:
        """A training stage's config slice: the method's config, plus the evaluation's selection slice when
        the method evaluates checkpoints (the slice decides which questions score its checkpoints)."""
        if not _evaluates_checkpoints(method_cfg):
            return raw
        return {**dict(raw), "selection_questions": self.cfg.evaluate.selection_questions}

    def _method_inputs(self, data: tuple[str, ...], method_cfg: Any, files: dict[str, Path] | None = None,
                       ) -> Callable[[], StageInputs]:
        """A training stage's inputs: its data, the seed and the files its config names; a judged checkpoint
        evaluation adds the evaluation sets, judge and generation."""
        judged = _evaluates_checkpoints(method_cfg)
        wanted = tuple(dict.fromkeys(data + (EVAL_DATA if judged else ())))
        return self.inputs(wanted, seed=True, judge=judged, generation=judged, files=files)

    def _recover_inputs(self, cell: MethodCell) -> Callable[[], StageInputs]:
        """A recovery stage's inputs: the recovery data (`_method_inputs`)."""
        return self._method_inputs(RECOVER_DATA, cell.config, files=_method_files(cell))

    def _checkpoint_evaluation(self, method_cfg: Any) -> dict[str, Any]:
        """MethodContext fields for the judged checkpoint evaluation, when the method evaluates checkpoints."""
        if not _evaluates_checkpoints(method_cfg):
            return {}
        data = self.data_paths(*EVAL_DATA)
        world = self.store.world_dir / "world.json"
        if world.exists():
            data.update(world=world, proxy=self.data_path("proxy"))
        return {"evaluation_data": data, "evaluation": self.cfg.evaluate.model_dump(mode="json"),
                "cache_dir": self.store.cache_dir}

    def _write_record(self, out: Path, name: str, method: str, parent: str | None, params: dict[str, Any],
                      input_model: Path) -> None:
        """The model card: base named relative to the model folder (relocatable run dir), the key of the
        stage that made it and its weights digest (the generation cache's model identity)."""
        from sycolab.models.digest import model_weights_key, weights_sha256
        from sycolab.models.load import adapter_base, relative_base_model

        final = self.store.model_dir(name)
        adapter = (out / "adapter_config.json").exists()
        base_digest = None
        if adapter:  # the adapter's real base (a merged copy under training/), as the method exported it
            base = adapter_base(out)
            base_digest = model_weights_key(Path(base)) if Path(base).is_dir() else base
        else:
            base = str(input_model)
        stage = self.store.stage("base" if name == "base" else f"train:{name}") or {}
        write_model_record(out, name, method, parent, params, adapter=adapter,
                           base_model=relative_base_model(base, final), stage_key=stage.get("key"),
                           weights_sha256=weights_sha256(out, base_digest))

    def _run_eval(self, name: str) -> dict[str, Any]:
        from sycolab.study.evaluate import evaluate_stored_model

        return evaluate_stored_model(self, name)

    def _run_probe(self) -> dict[str, Any]:
        from sycolab.study.probe import probe_study

        return probe_study(self)

    def _run_report(self) -> dict[str, Any]:
        from sycolab.reporting import build_report

        paths = build_report(self.store.root, self.cfg.report)
        return {"outputs": [str(p) for p in paths]}


def corpus_texts(paths: list[Path]) -> list[str]:
    """Every string value in the given JSONL files (the tiny tokenizer's training text)."""
    texts: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, str):
            texts.append(obj)
        elif isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    for path in paths:
        for _, row in iter_jsonl(path):
            walk(row)
    return texts


def _evaluates_checkpoints(method_cfg: Any) -> bool:
    policy = getattr(method_cfg, "checkpoint", None)
    return policy is not None and policy.eval_every is not None


def _method_files(cell: MethodCell) -> dict[str, Path]:
    """Files a method config names beyond the data sets (`input_files()`, e.g. cai_*'s constitution)."""
    files = getattr(cell.config, "input_files", None)
    return files() if callable(files) else {}


def _as_info(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return {k: v for k, v in dataclasses.asdict(obj).items() if isinstance(v, (int, float, str, bool, type(None)))}
    return {"result": str(obj)}
