"""`refree_ipo`: the untested quadrant of the reference study, reference-free AND non-saturating.

SimPO is reference-free but saturating (log-sigmoid); IPO is non-saturating but anchored to a reference.
This method takes SimPO's reference-free, length-normalised implicit reward and IPO's squared loss:

    h    = (1/|y_w|) log pi(y_w|x) - (1/|y_l|) log pi(y_l|x)      (mean token log-probs of the completions)
    loss = (h - 1/(2 beta))^2                                       (beta = IPO's tau)

which is exactly TRL's IPO loss with the reference log-probs set to zero (TRL's DPOTrainer also normalises
IPO's log-ratios by completion length). |y| counts the completion's tokens including the end-of-turn
token; the prompt is excluded. The loss pulls the per-token log-probability gap between the honest and the
sycophantic reply to 1/(2 beta) nats and pushes back if it overshoots, so, unlike SimPO, margins cannot
grow without bound, and, unlike IPO, nothing ties the policy to the SFT model's absolute log-probs.

TRL's experimental CPOTrainer computes this loss as `loss_type="ipo"` with `cpo_alpha=0` (its "ipo" branch
uses mean token log-probs and no reference), so no new trainer code is needed: the trainer is the one
SimPO uses. The CPO-family SimPO loss written in the same terms is -log sigmoid(beta * h - gamma).

`sft_weight` > 0 adds the chosen reply's per-token negative log-likelihood with that weight (CPOTrainer's
`cpo_alpha`, the behaviour-cloning term of CPO, Xu et al. 2024, arXiv:2401.08417; the same term `dpo` and `ipo`
add as RPO): without a reference nothing else holds the chosen reply's absolute likelihood, and the squared
loss can meet its target by lowering both replies. The default 0 is the loss above.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sycolab.methods._preference import cpo_trainer, preference_recipe
from sycolab.methods.config import TrainingConfig
from sycolab.methods.lifecycle import run_recipe
from sycolab.methods.registry import MethodContext, MethodTraits, register_method


class RefreeIPOMethodConfig(TrainingConfig):
    """Reference-free IPO hyperparameters: TrainingConfig plus beta (the target margin is 1/(2 beta)) and the
    chosen reply's NLL weight."""

    beta: float = Field(
        0.5, gt=0, description="IPO tau; the target gap in mean token log-probability is 1/(2 beta) nats."
    )
    sft_weight: float = Field(0.0, ge=0, description="Weight of the chosen reply's per-token NLL added to the loss "
                                                     "(CPOTrainer's cpo_alpha); 0: the reference-free IPO loss alone.")


TRAITS = MethodTraits(reference="free", loss="non-saturating", data="offline")

RECIPE = preference_recipe(
    "refree_ipo",
    cpo_trainer,
    loss_args=lambda cfg: {"loss_type": "ipo", "cpo_alpha": cfg.sft_weight, "beta": cfg.beta},
)


@register_method("refree_ipo", config=RefreeIPOMethodConfig, traits=TRAITS)
def run(ctx: MethodContext) -> dict[str, Any]:
    """Reference-free IPO from the SFT model: (mean log pi(y_w) - mean log pi(y_l) - 1/(2 beta))^2, no reference."""
    return run_recipe(ctx, RECIPE)
