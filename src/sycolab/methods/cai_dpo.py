"""`cai_dpo`: DPO on constitutional revisions (the reference study's DPO-CAI: aggregate 0.166, its best method).

The critique-revise step (`sycolab.methods._cai`) turns the SFT model's own replies into pairs: chosen = the
critic's revision, rejected = the initial reply; then DPO (Rafailov et al. 2023) from the SFT model with the
SFT model as frozen reference, exactly as `dpo` (same recipe, same trainer, same loss fields): `sft_weight` > 0
adds the negative log-likelihood of the chosen revision (per token) to the loss with that weight (RPO).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sycolab.methods import dpo
from sycolab.methods._cai import CAISettings, build_cai_data, record_cai_summary
from sycolab.methods.lifecycle import run_recipe
from sycolab.methods.registry import MethodContext, register_method


class CAIDPOMethodConfig(dpo.DPOMethodConfig, CAISettings):
    """DPO hyperparameters (sft_weight included) plus the constitution, critic, prompts and filters of the
    revision step."""


RECIPE = dataclasses.replace(dpo.RECIPE, method="cai_dpo")


@register_method("cai_dpo", config=CAIDPOMethodConfig, traits=dpo.TRAITS)
def run(ctx: MethodContext) -> dict[str, Any]:
    """DPO with the critic's revision chosen and the SFT model's initial reply rejected (Constitutional AI)."""
    cfg: CAIDPOMethodConfig = ctx.config  # type: ignore[assignment]
    data = build_cai_data(ctx, cfg, "cai_dpo")
    result = run_recipe(dataclasses.replace(ctx, data={**ctx.data, "preference": data.pairs}), RECIPE)
    return record_cai_summary(ctx, "cai_dpo", result, data.stats)
