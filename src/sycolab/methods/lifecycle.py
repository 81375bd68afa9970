"""The training lifecycle, fixed and in one place (torchtune's recipe shape): load the inputs, build the
trainer, train, export. Each step happens once, here, for every method.

A method supplies only what differs, as a `TrainingRecipe`: its TRL trainer and arguments class, the loss
arguments computed from its config, its data (`inputs`), the kind of model it trains (`ModelKind`) and what
it adds to summary.json. The order of the steps is part of the contract, since the global RNG state at
model construction decides new weights (LoRA adapters, the reward model's score head):

1. inputs: the input model as full weights (`plain_model_path`), its tokenizer, the method's `inputs`
   (rows, and models such as the reward scorer), then the frozen reference where the registered traits say
   the loss compares to one (`MethodTraits.compares_to_reference_model`);
2. trainer: the diagnostics and checkpoint callbacks, the model (`ModelKind.load`), the TRL arguments
   (`build_trl_args` + the recipe's loss arguments), the TRL trainer;
3. train: `trainer.train()`, the last model saved;
4. export: best or last by the checkpoint policy, merged or kept adapter, model card, summary.json.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from sycolab.errors import ConfigError
from sycolab.io import atomic_write_json
from sycolab.methods.config import TrainingConfig, build_trl_args
from sycolab.methods.export import export_model
from sycolab.methods.loading import (
    data_path,
    load_causal_lm,
    load_rows,
    load_tokenizer_for,
    lora_config,
    plain_model_path,
    to_dataset,
)
from sycolab.methods.registry import MethodContext, find_method

if TYPE_CHECKING:
    from transformers import Trainer


@dataclass(frozen=True)
class ModelKind:
    """What a method trains: how the model is built from the input folder (`load(source, ctx, tokenizer)`),
    the transformers auto class and keyword arguments that rebuild its base to merge an adapter, the PEFT
    task type of its adapter, and whether it is a causal LM (only a causal LM gets checkpoint evaluations)."""

    load: Callable[[Path, MethodContext, Any], Any]
    auto_class: str = "AutoModelForCausalLM"
    base_kwargs: dict[str, Any] = field(default_factory=dict)
    lora_task: str = "CAUSAL_LM"
    causal_lm: bool = True


CAUSAL_LM = ModelKind(load=lambda source, ctx, tokenizer: load_causal_lm(source, ctx))


@dataclass
class TrainingInputs:
    """A method's data for one run: the training rows, its own trainer arguments (e.g. GRPO's
    `reward_funcs`) and TRL arguments that depend on them (`args_fields`, e.g. GRPO's `reward_weights`).
    A method that needs more afterwards (for its summary) subclasses this."""

    rows: list[dict[str, Any]]
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)
    args_fields: dict[str, Any] = field(default_factory=dict)  # TRL arguments that depend on the data


@dataclass(frozen=True)
class TrainingSetup:
    """What the lifecycle hands a recipe's hooks: the run, the recipe's method name (for messages and the
    model card), the full-weight model folder training starts from and its tokenizer."""

    ctx: MethodContext
    method: str
    source: Path
    tokenizer: Any

    @property
    def config(self) -> Any:
        """The method's validated config (its own config class)."""
        return self.ctx.config

    def rows(self, key: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The rows of data file `key`, only `columns` (and `optional` ones, None where absent) kept (`load_rows`)."""
        return load_rows(self.ctx, key, self.method, columns, optional)


Inputs = TypeVar("Inputs", bound=TrainingInputs)


@dataclass(frozen=True)
class TrainingRecipe(Generic[Inputs]):
    """How a method maps onto the lifecycle.

    `trainer()` returns (TRL trainer class, its TrainingArguments class) and is called at run time, so
    importing a method module does not import TRL. `loss_args(cfg)` gives the trainer's own fields (beta,
    loss_type, ...). `inputs(setup)` reads the method's data. `summary(setup, trainer, inputs, diagnostics)`
    returns extra summary.json entries, computed after training on every rank; `files(extra)` names JSON
    files to export beside the model, from those entries.
    """

    method: str
    trainer: Callable[[], tuple[type, type]]
    loss_args: Callable[[Any], dict[str, Any]]
    inputs: Callable[[TrainingSetup], Inputs]
    model: ModelKind = CAUSAL_LM
    summary: Callable[[TrainingSetup, Any, Inputs, Any], dict[str, Any]] | None = None
    files: Callable[[dict[str, Any]], dict[str, Any]] | None = None


@dataclass
class BuiltTrainer(Generic[Inputs]):
    """A constructed trainer with its callbacks, the setup it was built from and the method's inputs."""

    trainer: Any
    diagnostics: Any
    checkpoints: Any
    setup: TrainingSetup
    inputs: Inputs


def run_recipe(ctx: MethodContext, recipe: TrainingRecipe[Any]) -> dict[str, Any]:
    """Train `ctx.input_model` with `recipe` and export it: the whole lifecycle (module docstring)."""
    return train_and_export(build_trainer(ctx, recipe), recipe)


def build_trainer(ctx: MethodContext, recipe: TrainingRecipe[Inputs]) -> BuiltTrainer[Inputs]:
    """Steps 1 and 2 of the lifecycle: the inputs, then the TRL trainer with its callbacks."""
    cfg = cast(TrainingConfig, ctx.config)  # validated into the method's TrainingConfig subclass at config load
    source = plain_model_path(ctx.input_model, ctx)
    setup = TrainingSetup(ctx, recipe.method, source, load_tokenizer_for(source, ctx))
    inputs = recipe.inputs(setup)
    reference = _reference_kwargs(setup, cfg)
    diagnostics, checkpoints = standard_callbacks(ctx, cfg, recipe.method, proxy=recipe.model.causal_lm)
    trainer_cls, _ = recipe.trainer()
    model = recipe.model.load(source, ctx, setup.tokenizer)
    args = trainer_arguments(ctx, recipe)
    for name, value in inputs.args_fields.items():
        setattr(args, name, value)
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=to_dataset(inputs.rows),
        processing_class=setup.tokenizer,
        peft_config=lora_config(cfg.lora, task_type=recipe.model.lora_task) if cfg.lora else None,
        callbacks=[c for c in (diagnostics, checkpoints) if c is not None],
        **inputs.trainer_kwargs,
        **reference,
    )
    return BuiltTrainer(trainer, diagnostics, checkpoints, setup, inputs)


def trainer_arguments(ctx: MethodContext, recipe: TrainingRecipe[Any]) -> Any:
    """The TRL arguments of `recipe` for `ctx`: the shared fields from the config (`build_trl_args`) plus the
    recipe's loss arguments."""
    _, args_cls = recipe.trainer()
    return build_trl_args(args_cls, ctx.config, ctx, **recipe.loss_args(ctx.config))  # type: ignore[arg-type]


def _reference_kwargs(setup: TrainingSetup, cfg: TrainingConfig) -> dict[str, Any]:
    """`ref_model` for a method whose registered loss compares to a frozen reference (the SFT model unless
    the context names another); None with LoRA when the reference is the input model (TRL then disables the
    adapter to get the reference). Nothing for other methods."""
    spec = find_method(setup.method)
    if spec is None or not spec.traits.compares_to_reference_model:
        return {}
    ctx = setup.ctx
    reference = plain_model_path(ctx.reference_model or ctx.input_model, ctx)
    same = Path(reference).resolve() == Path(setup.source).resolve()
    return {"ref_model": None if (cfg.lora and same) else load_causal_lm(reference, ctx)}


def standard_callbacks(ctx: MethodContext, cfg: TrainingConfig, method: str, proxy: bool = True) -> tuple[Any, Any]:
    """The diagnostics callback and, when `cfg.checkpoint.eval_every` is set, the checkpoint callback:
    the judged mini-evaluation plus the proxy when the context carries the evaluation sets
    (`ctx.evaluation_data`), else the proxy file alone (`select_by: judged` then refused)."""
    from sycolab.methods._checkpoints import EVALS_DIR, CheckpointCallback, MiniEvaluation, Scorer, proxy_file_scorer
    from sycolab.methods._diagnostics import DiagnosticsCallback

    diagnostics = DiagnosticsCallback(ctx.work_dir)
    checkpoints = None
    policy = cfg.checkpoint
    if proxy and policy.eval_every is not None:
        scorer: Scorer
        if ctx.evaluation_data and ctx.evaluation is not None and ctx.cache_dir is not None:
            shutil.rmtree(ctx.work_dir / EVALS_DIR, ignore_errors=True)
            scorer = MiniEvaluation(ctx.name, policy, ctx.evaluation_data, ctx.evaluation, ctx.cache_dir,
                                    ctx.work_dir / EVALS_DIR)
        elif policy.select_by == "judged":
            problem = (f"checkpoint.select_by: 'judged' needs the evaluation sets and the judge, which this run of "
                       f"'{ctx.name}' was not given; use select_by 'proxy' or 'last'")
            raise ConfigError(method, [problem])
        else:
            scorer = proxy_file_scorer(data_path(ctx, "proxy", method), policy)
        checkpoints = CheckpointCallback(policy, scorer, ctx.work_dir / "best")
    return diagnostics, checkpoints


def train_and_export(built: BuiltTrainer[Inputs], recipe: TrainingRecipe[Inputs]) -> dict[str, Any]:
    """Steps 3 and 4 of the lifecycle: train, save the last model, pick best or last by the checkpoint
    policy, export, write summary.json.

    Returns the summary with `model_dir` (the exported folder) added. Under a multi-process launch only the
    main process exports and writes; the others return after training.
    """
    from transformers.trainer_callback import PrinterCallback

    from sycolab.methods._checkpoints import MiniEvaluation
    from sycolab.methods._progress import StepProgressCallback

    trainer: Trainer = built.trainer
    setup, checkpoints = built.setup, built.checkpoints
    ctx, method = setup.ctx, setup.method
    cfg = cast(TrainingConfig, ctx.config)
    for stale in ("last", "best"):
        shutil.rmtree(ctx.work_dir / stale, ignore_errors=True)
    trainer.remove_callback(PrinterCallback)  # diagnostics.csv is the record; no log dict per step on stdout
    trainer.add_callback(StepProgressCallback(ctx.name))
    trainer.train()
    last = ctx.work_dir / "last"
    trainer.save_model(str(last))
    extra = recipe.summary(setup, trainer, built.inputs, built.diagnostics) if recipe.summary is not None else {}
    if not trainer.is_world_process_zero():
        return {"model_dir": str(ctx.output_dir)}
    chosen, checkpoint_summary = last, {"select_by": "last", "chosen": "last"}
    if checkpoints is not None:
        checkpoint_summary = checkpoints.summary()
        if isinstance(checkpoints.scorer, MiniEvaluation):
            checkpoint_summary["mini_evaluation"] = checkpoints.scorer.describe()
        use_best = cfg.checkpoint.select_by != "last" and checkpoints.best_step is not None
        chosen = checkpoints.best_dir if use_best else last
        checkpoint_summary["chosen"] = "best" if use_best else "last"
    kind = recipe.model
    export_model(chosen, ctx, method, cfg, setup.source, kind.auto_class, kind.base_kwargs or None,
                 files=recipe.files(extra) if recipe.files is not None else None)
    shutil.rmtree(last, ignore_errors=True)
    summary = {"name": ctx.name, "method": method, **built.diagnostics.summary(), "checkpoint": checkpoint_summary,
               **extra}
    atomic_write_json(ctx.work_dir / "summary.json", summary)
    return {"model_dir": str(ctx.output_dir), **summary}
