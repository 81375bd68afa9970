"""`dpo`: Direct Preference Optimization (Rafailov et al. 2023, arXiv:2305.18290) with TRL's DPOTrainer.

With r(y) = beta * (log pi(y|x) - log pi_ref(y|x)) the implicit reward against the frozen SFT reference,
loss = -log sigmoid(r(y_w) - r(y_l)) (loss_type "sigmoid"). Saturating: once the margin is large the
gradient vanishes.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sycolab.methods._preference import dpo_trainer, preference_recipe
from sycolab.methods.config import TrainingConfig
from sycolab.methods.lifecycle import run_recipe
from sycolab.methods.registry import MethodContext, MethodTraits, register_method


class DPOMethodConfig(TrainingConfig):
    """DPO hyperparameters: TrainingConfig plus the KL strength beta."""

    beta: float = Field(0.1, gt=0, description="Strength of the implicit KL penalty to the reference.")


TRAITS = MethodTraits(reference="ref", loss="saturating", data="offline")

RECIPE = preference_recipe(
    "dpo",
    dpo_trainer,
    loss_args=lambda cfg: {"loss_type": ["sigmoid"], "beta": cfg.beta},
)


@register_method("dpo", config=DPOMethodConfig, traits=TRAITS)
def run(ctx: MethodContext) -> dict[str, Any]:
    """DPO from the SFT model with the SFT model as frozen reference: -log sigmoid(beta * (log-ratio_w - log-ratio_l))."""
    return run_recipe(ctx, RECIPE)
