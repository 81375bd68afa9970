"""`simpo`: Simple Preference Optimization (Meng et al. 2024, arXiv:2405.14734), via TRL's experimental CPOTrainer.

Reference-free, length-normalised implicit reward r(y) = (beta/|y|) log pi(y|x);
loss = -log sigmoid(r(y_w) - r(y_l) - gamma) (CPOConfig loss_type "simpo" with cpo_alpha 0, i.e. no
behaviour-cloning term). Saturating, like DPO. The reference study found the paper's learning rates left
the model unchanged; higher ones worked.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sycolab.methods._preference import cpo_trainer, preference_recipe
from sycolab.methods.config import TrainingConfig
from sycolab.methods.lifecycle import run_recipe
from sycolab.methods.registry import MethodContext, MethodTraits, register_method


class SimPOMethodConfig(TrainingConfig):
    """SimPO hyperparameters: TrainingConfig plus the reward scale beta and target margin gamma."""

    beta: float = Field(2.0, gt=0, description="Scale of the length-normalised reward (paper: 2.0-2.5).")
    gamma: float = Field(1.0, ge=0, description="Target reward margin (paper: gamma/beta about 0.5).")


TRAITS = MethodTraits(reference="free", loss="saturating", data="offline")

RECIPE = preference_recipe(
    "simpo",
    cpo_trainer,
    loss_args=lambda cfg: {"loss_type": "simpo", "cpo_alpha": 0.0, "beta": cfg.beta, "simpo_gamma": cfg.gamma},
)


@register_method("simpo", config=SimPOMethodConfig, traits=TRAITS)
def run(ctx: MethodContext) -> dict[str, Any]:
    """SimPO from the SFT model (no reference): -log sigmoid((beta/|y_w|) log pi(y_w) - (beta/|y_l|) log pi(y_l) - gamma)."""
    return run_recipe(ctx, RECIPE)
