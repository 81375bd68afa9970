"""`cai_sl`: supervised fine-tuning on constitutional revisions (the reference study's SL-CAI: aggregate 0.348).

The critique-revise step (`sycolab.methods._cai`) produces the critic's revisions of the SFT model's own
replies; the SFT model is then fine-tuned on them with the `sft` method (TRL SFTTrainer, completion-only
loss), starting from the SFT model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import Field

from sycolab.methods import sft
from sycolab.methods._cai import CAISettings, build_cai_data, record_cai_summary
from sycolab.methods.config import TrainingConfig
from sycolab.methods.lifecycle import run_recipe
from sycolab.methods.registry import MethodContext, register_method

REVISIONS_KEY = "cai_revisions"


class CAISLMethodConfig(TrainingConfig, CAISettings):
    """SFT hyperparameters plus the constitution, critic, prompts and filters of the revision step."""

    completion_only_loss: bool = Field(True, description="Loss on the revision tokens only.")


def sft_config(cfg: CAISLMethodConfig) -> sft.SFTMethodConfig:
    """The `sft` config training on the revisions: the training fields that were set (a default left unset
    stays unset, so validators that look at what was set, e.g. the checkpoint policy's, see the same)."""
    training = cfg.model_dump(include=set(TrainingConfig.model_fields), exclude_unset=True)
    return sft.SFTMethodConfig(**training, completion_only_loss=cfg.completion_only_loss, data_key=REVISIONS_KEY)


@register_method("cai_sl", config=CAISLMethodConfig)
def run(ctx: MethodContext) -> dict[str, Any]:
    """Supervised fine-tuning of the SFT model on the critic's revisions of its own replies (Constitutional AI)."""
    cfg: CAISLMethodConfig = ctx.config  # type: ignore[assignment]
    data = build_cai_data(ctx, cfg, "cai_sl")
    sub = dataclasses.replace(ctx, config=sft_config(cfg), data={**ctx.data, REVISIONS_KEY: data.revisions})
    return record_cai_summary(ctx, "cai_sl", run_recipe(sub, sft.RECIPE), data.stats)
