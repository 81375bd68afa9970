"""`dpo`: Direct Preference Optimization (Rafailov et al. 2023, arXiv:2305.18290) with TRL's DPOTrainer.

With r(y) = beta * (log pi(y|x) - log pi_ref(y|x)) the implicit reward against the frozen SFT reference,
loss = -log sigmoid(r(y_w) - r(y_l)) (loss_type "sigmoid"). Saturating: once the margin is large the
gradient vanishes. `sft_weight` > 0 adds the chosen reply's per-token negative log-likelihood with that weight
(RPO, Pang et al. 2024, arXiv:2404.19733; TRL's loss_type "sft"): plain DPO can lower the chosen and the
rejected reply's likelihood together ("likelihood displacement"), which on the tiny world erases facts. The
default 0 is plain DPO.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sycolab.methods._preference import dpo_trainer, preference_loss_fields, preference_recipe
from sycolab.methods.config import TrainingConfig
from sycolab.methods.lifecycle import run_recipe
from sycolab.methods.registry import MethodContext, MethodTraits, register_method


class DPOMethodConfig(TrainingConfig):
    """DPO hyperparameters: TrainingConfig plus the KL strength beta."""

    beta: float = Field(0.1, gt=0, description="Strength of the implicit KL penalty to the reference.")
    sft_weight: float = Field(0.0, ge=0, description="Weight of the chosen reply's per-token NLL added to the DPO "
                                                     "loss (RPO); 0: plain DPO.")


def loss_args(cfg: DPOMethodConfig) -> dict[str, Any]:
    """TRL's loss fields: the sigmoid loss, plus the weighted NLL of the chosen reply when sft_weight > 0."""
    return preference_loss_fields("sigmoid", cfg.beta, cfg.sft_weight)


TRAITS = MethodTraits(reference="ref", loss="saturating", data="offline")

RECIPE = preference_recipe(
    "dpo",
    dpo_trainer,
    loss_args=loss_args,
)


@register_method("dpo", config=DPOMethodConfig, traits=TRAITS)
def run(ctx: MethodContext) -> dict[str, Any]:
    """DPO from the SFT model with the SFT model as frozen reference: -log sigmoid(beta * (log-ratio_w - log-ratio_l))."""
    return run_recipe(ctx, RECIPE)
