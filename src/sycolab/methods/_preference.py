"""One builder for every offline preference method (DPO, IPO, SimPO, reference-free IPO).

A method is a `PreferenceRecipe`: which TRL trainer runs it, the trainer's loss fields computed from the
method config, and whether the loss needs a frozen reference model. `run_preference` does the rest the
same way for all of them (load the SFT policy and reference, read the preference pairs, train, export), so
a method module is a config class and a recipe, and no loss is chosen by an if/elif chain here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sycolab.methods.common import (
    TrainingConfig,
    build_trl_args,
    load_causal_lm,
    load_rows,
    load_tokenizer_for,
    lora_config,
    plain_model_path,
    standard_callbacks,
    to_dataset,
    train_and_export,
)
from sycolab.methods.registry import MethodContext

PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")


@dataclass(frozen=True)
class PreferenceRecipe:
    """How a preference method maps onto a TRL trainer.

    `trainer()` returns (trainer class, its TrainingArguments class) and is called at run time, so importing
    a method module does not import TRL. `loss_args(cfg)` gives the trainer's loss fields. `reference` says
    whether the loss compares against a frozen reference model (DPO, IPO) or is reference-free (SimPO).
    """

    method: str
    trainer: Callable[[], tuple[type, type]]
    loss_args: Callable[[Any], dict[str, Any]]
    reference: bool


def dpo_trainer() -> tuple[type, type]:
    from trl import DPOConfig, DPOTrainer

    return DPOTrainer, DPOConfig


def cpo_trainer() -> tuple[type, type]:
    from trl.experimental.cpo import CPOConfig

    from sycolab.methods._cpo import TokenCountingCPOTrainer

    return TokenCountingCPOTrainer, CPOConfig


def run_preference(ctx: MethodContext, recipe: PreferenceRecipe) -> dict[str, Any]:
    """Train `ctx.input_model` on the preference pairs `ctx.data["preference"]` with `recipe`; export it."""
    built = build_preference_trainer(ctx, recipe)

    def health(trainer: Any) -> dict[str, Any]:
        from sycolab.methods._diagnostics import training_health

        heldout = trainer.evaluate() if trainer.eval_dataset is not None else None
        return {"health": training_health(recipe.method, built.diagnostics.rows, heldout).as_dict()}

    return train_and_export(
        built.trainer, ctx, recipe.method, ctx.config, built.diagnostics, built.checkpoints, base_model=built.source,
        after_train=health,
    )


@dataclass
class BuiltTrainer:
    """A constructed trainer with its callbacks and the (full-weight) model folder it starts from."""

    trainer: Any
    diagnostics: Any
    checkpoints: Any
    source: Path


def build_preference_trainer(ctx: MethodContext, recipe: PreferenceRecipe) -> BuiltTrainer:
    """The TRL trainer for `recipe` on `ctx`: SFT policy (full or LoRA), frozen reference where the loss has one,
    preference pairs, TRL arguments from the method config, diagnostics and checkpoint callbacks."""
    cfg: TrainingConfig = ctx.config  # type: ignore[assignment]
    trainer_cls, args_cls = recipe.trainer()
    source = plain_model_path(ctx.input_model, ctx)
    extra: dict[str, Any] = {}
    if recipe.reference:
        reference = plain_model_path(ctx.reference_model or ctx.input_model, ctx)
        # With LoRA and the reference equal to the input, TRL disables the adapter to get the reference.
        same = Path(reference).resolve() == Path(source).resolve()
        extra["ref_model"] = None if (cfg.lora and same) else load_causal_lm(reference, ctx)
    diagnostics, checkpoints = standard_callbacks(ctx, cfg, recipe.method)
    trainer = trainer_cls(
        model=load_causal_lm(source, ctx),
        args=build_trl_args(args_cls, cfg, ctx, **recipe.loss_args(cfg)),
        train_dataset=to_dataset(load_rows(ctx, "preference", recipe.method, PREFERENCE_COLUMNS)),
        eval_dataset=(to_dataset(load_rows(ctx, "preference_heldout", recipe.method, PREFERENCE_COLUMNS))
                      if "preference_heldout" in ctx.data else None),
        processing_class=load_tokenizer_for(source, ctx),
        peft_config=lora_config(cfg.lora) if cfg.lora else None,
        callbacks=[c for c in (diagnostics, checkpoints) if c is not None],
        **extra,
    )
    return BuiltTrainer(trainer, diagnostics, checkpoints, source)
