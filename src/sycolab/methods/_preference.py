"""Offline preference methods (DPO, IPO, SimPO, reference-free IPO) as data: `preference_recipe` gives a
method's `TrainingRecipe` from its TRL trainer and loss arguments; the preference pairs are its data, and the
lifecycle (`sycolab.methods.lifecycle`) does the rest the same way for all of them, adding the frozen
reference where the method's registered traits say its loss has one. No loss is chosen by an if/elif chain.

When the run has held-out pairs (`ctx.data["preference_heldout"]`, the world's `train/preference_heldout.jsonl`)
they are the trainer's `eval_dataset`, evaluated once after training (never during it; `eval_strategy` stays
"no"), and summary.json gets `held_out_preference` (the pair count and every `eval_*` value TRL logs:
`eval_rewards/accuracies`, `eval_rewards/margins`, ...) and `health` (`sycolab.methods.health`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sycolab.methods.health import training_health
from sycolab.methods.lifecycle import TrainingInputs, TrainingRecipe, TrainingSetup
from sycolab.methods.loading import to_dataset

PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")
HELD_OUT = "preference_heldout"


def preference_loss_fields(loss_type: str, beta: float, sft_weight: float) -> dict[str, Any]:
    """TRL's loss fields for DPOTrainer: `loss_type`, plus the chosen reply's NLL weighted `sft_weight` when > 0
    (TRL's loss_type "sft" beside it)."""
    if sft_weight == 0:
        return {"loss_type": [loss_type], "beta": beta}
    return {"loss_type": [loss_type, "sft"], "loss_weights": [1.0, sft_weight], "beta": beta}


def preference_inputs(setup: TrainingSetup) -> TrainingInputs:
    """The preference pairs `ctx.data["preference"]`: prompt, chosen and rejected messages; the held-out
    pairs `ctx.data["preference_heldout"]`, when the run has them, as the trainer's `eval_dataset`."""
    inputs = TrainingInputs(rows=setup.rows("preference", PREFERENCE_COLUMNS))
    if HELD_OUT in setup.ctx.data:
        inputs.trainer_kwargs["eval_dataset"] = to_dataset(setup.rows(HELD_OUT, PREFERENCE_COLUMNS))
    return inputs


def preference_summary(setup: TrainingSetup, trainer: Any, inputs: TrainingInputs, diagnostics: Any) -> dict[str, Any]:
    """summary.json's `held_out_preference` (one evaluate() on the held-out pairs, on every rank: it is a
    collective) and `health` (final train and held-out preference accuracy and margin, the under-trained flag)."""
    extra: dict[str, Any] = {}
    held_out: dict[str, Any] = {}
    if trainer.eval_dataset is not None:
        held_out = {k: float(v) for k, v in trainer.evaluate().items() if isinstance(v, (int, float))}
        if diagnostics.evaluations:
            held_out.update(diagnostics.evaluations[-1])
        held_out.pop("epoch", None)
        extra["held_out_preference"] = {"pairs": len(trainer.eval_dataset), **held_out}
    extra["health"] = training_health("preference", diagnostics.rows, held_out=held_out).to_dict()
    return extra


def preference_recipe(
    method: str, trainer: Callable[[], tuple[type, type]], loss_args: Callable[[Any], dict[str, Any]]
) -> TrainingRecipe[TrainingInputs]:
    """The recipe of preference method `method`: `trainer()` gives (TRL trainer class, its TrainingArguments
    class) and `loss_args(cfg)` the trainer's loss fields."""
    return TrainingRecipe(method=method, trainer=trainer, loss_args=loss_args, inputs=preference_inputs,
                          summary=preference_summary)


def dpo_trainer() -> tuple[type, type]:
    from trl import DPOConfig, DPOTrainer

    return DPOTrainer, DPOConfig


def cpo_trainer() -> tuple[type, type]:
    from trl.experimental.cpo import CPOConfig

    from sycolab.methods._cpo import TokenCountingCPOTrainer

    return TokenCountingCPOTrainer, CPOConfig
