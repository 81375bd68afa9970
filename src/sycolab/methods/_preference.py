"""Offline preference methods (DPO, IPO, SimPO, reference-free IPO) as data: `preference_recipe` gives a
method's `TrainingRecipe` from its TRL trainer and loss arguments; the preference pairs are its data, and the
lifecycle (`sycolab.methods.lifecycle`) does the rest the same way for all of them, adding the frozen
reference where the method's registered traits say its loss has one. No loss is chosen by an if/elif chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sycolab.methods.lifecycle import TrainingInputs, TrainingRecipe, TrainingSetup

PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")


def preference_inputs(setup: TrainingSetup) -> TrainingInputs:
    """The preference pairs `ctx.data["preference"]`: prompt, chosen and rejected messages."""
    return TrainingInputs(rows=setup.rows("preference", PREFERENCE_COLUMNS))


def preference_recipe(
    method: str, trainer: Callable[[], tuple[type, type]], loss_args: Callable[[Any], dict[str, Any]]
) -> TrainingRecipe[TrainingInputs]:
    """The recipe of preference method `method`: `trainer()` gives (TRL trainer class, its TrainingArguments
    class) and `loss_args(cfg)` the trainer's loss fields."""
    return TrainingRecipe(method=method, trainer=trainer, loss_args=loss_args, inputs=preference_inputs)


def dpo_trainer() -> tuple[type, type]:
    from trl import DPOConfig, DPOTrainer

    return DPOTrainer, DPOConfig


def cpo_trainer() -> tuple[type, type]:
    from trl.experimental.cpo import CPOConfig

    from sycolab.methods._cpo import TokenCountingCPOTrainer

    return TokenCountingCPOTrainer, CPOConfig
