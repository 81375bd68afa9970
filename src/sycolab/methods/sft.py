"""`sft`: supervised fine-tuning with TRL's SFTTrainer (full fine-tune or LoRA).

Induces sycophancy from the sycophantic conversations (`ctx.data["sft"]`), and also trains the tiny
world's base model from random initialisation on its base corpus (a freshly initialised model folder is
a valid `input_model`). Data rows are TRL conversational prompt/completion (`{"prompt": [...],
"completion": [...]}`) or language-modelling `{"messages": [...]}`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sycolab.io import iter_jsonl
from sycolab.methods.config import TrainingConfig
from sycolab.methods.lifecycle import TrainingInputs, TrainingRecipe, TrainingSetup, run_recipe
from sycolab.methods.loading import data_path
from sycolab.methods.registry import MethodContext, register_method


class SFTMethodConfig(TrainingConfig):
    """SFT hyperparameters (TrainingConfig) plus what the loss covers and which data file to train on."""

    completion_only_loss: bool = Field(
        True, description="Loss on completion tokens only (prompt/completion rows); false trains on every token."
    )
    data_key: str = Field("sft", min_length=1, description="Name of the ctx.data entry holding the training rows.")
    packing: bool = Field(False, description="Pack several short examples into each max_length sequence.")
    group_by_length: bool = Field(
        False, description="Batch examples of similar length together (less padding: ~1.7x faster base training)."
    )


def sft_trainer() -> tuple[type, type]:
    from trl import SFTConfig, SFTTrainer

    return SFTTrainer, SFTConfig


def loss_args(cfg: SFTMethodConfig) -> dict[str, Any]:
    """SFTConfig's own fields: what the loss covers, packing, length grouping."""
    return dict(completion_only_loss=cfg.completion_only_loss, packing=cfg.packing, dataset_num_proc=None,
                train_sampling_strategy="group_by_length" if cfg.group_by_length else "random")


def sft_inputs(setup: TrainingSetup) -> TrainingInputs:
    """The rows of `data_key`: prompt/completion when the first row has a prompt, else messages."""
    key = setup.config.data_key
    _, first = next(iter_jsonl(data_path(setup.ctx, key, setup.method)), (0, {}))
    columns = ("prompt", "completion") if "prompt" in first else ("messages",)
    return TrainingInputs(rows=setup.rows(key, columns))


RECIPE = TrainingRecipe(method="sft", trainer=sft_trainer, loss_args=loss_args, inputs=sft_inputs)


@register_method("sft", config=SFTMethodConfig)
def run(ctx: MethodContext) -> dict[str, Any]:
    """Supervised fine-tuning: minimise -sum_t log p(y_t | x, y_<t) over the completion tokens (TRL SFTTrainer)."""
    return run_recipe(ctx, RECIPE)
