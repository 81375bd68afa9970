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
from sycolab.methods.common import (
    TrainingConfig,
    build_trl_args,
    data_path,
    load_causal_lm,
    load_rows,
    load_tokenizer_for,
    lora_config,
    plain_model_path,
    standard_callbacks,
    to_dataset,
    train_and_export,
)
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


def sft_arguments(cfg: SFTMethodConfig, ctx: MethodContext) -> Any:
    """TRL SFTConfig for `cfg` (`build_trl_args` plus the SFT-only fields)."""
    from trl import SFTConfig

    return build_trl_args(
        SFTConfig, cfg, ctx, completion_only_loss=cfg.completion_only_loss, packing=cfg.packing,
        dataset_num_proc=None, train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
    )


@register_method("sft", config=SFTMethodConfig)
def run(ctx: MethodContext) -> dict[str, Any]:
    """Supervised fine-tuning: minimise -sum_t log p(y_t | x, y_<t) over the completion tokens (TRL SFTTrainer)."""
    from trl import SFTTrainer

    cfg: SFTMethodConfig = ctx.config  # type: ignore[assignment]
    source = plain_model_path(ctx.input_model, ctx)
    _, first = next(iter_jsonl(data_path(ctx, cfg.data_key, "sft")), (0, {}))
    columns = ("prompt", "completion") if "prompt" in first else ("messages",)
    rows = load_rows(ctx, cfg.data_key, "sft", columns)
    diagnostics, checkpoints = standard_callbacks(ctx, cfg, "sft")
    trainer = SFTTrainer(
        model=load_causal_lm(source, ctx),
        args=sft_arguments(cfg, ctx),
        train_dataset=to_dataset(rows),
        processing_class=load_tokenizer_for(source, ctx),
        peft_config=lora_config(cfg.lora) if cfg.lora else None,
        callbacks=[c for c in (diagnostics, checkpoints) if c is not None],
    )
    return train_and_export(trainer, ctx, "sft", cfg, diagnostics, checkpoints, base_model=source)
