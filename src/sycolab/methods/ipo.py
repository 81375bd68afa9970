"""`ipo`: Identity Preference Optimisation (Azar et al. 2023, arXiv:2310.12036, Eq. 17) with TRL's DPOTrainer.

With h = (log pi(y_w|x) - log pi_ref(y_w|x)) / |y_w| - (log pi(y_l|x) - log pi_ref(y_l|x)) / |y_l| (TRL
normalises each log-ratio by its completion length, a choice confirmed with the IPO authors),
loss = (h - 1/(2 beta))^2, beta being the paper's tau. Non-saturating: the loss pulls h to the target
1/(2 beta) and pushes back beyond it. At step 0 the policy equals the reference, h = 0, so the loss is
exactly (1/(2 beta))^2: 25 for beta 0.1. `sft_weight` > 0 adds the chosen reply's per-token negative
log-likelihood with that weight, as `dpo`'s does (RPO, Pang et al. 2024, arXiv:2404.19733): the IPO loss
alone can meet its target by lowering the rejected reply, and the freed mass can go to a reply that is
neither (on the tiny world, the hedge). The default 0 is plain IPO.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sycolab.methods._preference import dpo_trainer, preference_loss_fields, preference_recipe
from sycolab.methods.config import TrainingConfig
from sycolab.methods.lifecycle import run_recipe
from sycolab.methods.registry import MethodContext, MethodTraits, register_method


class IPOMethodConfig(TrainingConfig):
    """IPO hyperparameters: TrainingConfig plus beta (tau in the paper; the target margin is 1/(2 beta)) and the
    optional chosen-reply NLL weight."""

    beta: float = Field(0.1, gt=0, description="IPO regulariser tau; the target log-ratio margin is 1/(2 beta).")
    sft_weight: float = Field(0.0, ge=0, description="Weight of the chosen reply's per-token NLL added to the IPO "
                                                     "loss (as RPO adds it to DPO's); 0: plain IPO.")


TRAITS = MethodTraits(reference="ref", loss="non-saturating", data="offline")

RECIPE = preference_recipe(
    "ipo",
    dpo_trainer,
    loss_args=lambda cfg: preference_loss_fields("ipo", cfg.beta, cfg.sft_weight),
)


@register_method("ipo", config=IPOMethodConfig, traits=TRAITS)
def run(ctx: MethodContext) -> dict[str, Any]:
    """IPO from the SFT model with the SFT model as frozen reference: (h - 1/(2 beta))^2 on length-normalised log-ratios."""
    return run_recipe(ctx, RECIPE)
