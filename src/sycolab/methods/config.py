"""The config every training method shares, and its mapping onto TRL arguments.

`TrainingConfig` is the pydantic base of every method's config (`extra="forbid"`); a method subclasses it
and adds its own fields (TRL's habit: a documented config that checks itself and says what it expected and
what it got). `build_trl_args` turns a config and a `MethodContext` into the trainer's TrainingArguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sycolab.methods.registry import MethodContext
from sycolab.methods.validation import show_value

if TYPE_CHECKING:
    from transformers import TrainingArguments

TrainingArgs = TypeVar("TrainingArgs", bound="TrainingArguments")


class LoraSettings(BaseModel):
    """Low-rank adapters (PEFT LoRA, Hu et al. 2021) instead of full fine-tuning."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, gt=0, description="Rank of the update matrices.")
    alpha: int = Field(32, gt=0, description="LoRA scaling numerator: the update is scaled by alpha / r.")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the adapter input.")
    target_modules: list[str] | str = Field(
        "all-linear",
        description="Module names to adapt, or 'all-linear' (every linear layer except the output head).",
    )
    merge: bool = Field(
        True,
        description="Merge the adapter into full weights when saving (true), or keep the folder as an adapter "
        "whose base model is recorded in sycolab_model.json and adapter_config.json (false).",
    )

    @field_validator("target_modules", mode="before")
    @classmethod
    def _check_targets(cls, value: Any) -> Any:
        if value == "all-linear" or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            return value
        raise ValueError(f"expected a non-empty list of module names or 'all-linear', got {show_value(value)}")


JUDGED_SELECTION_METRICS = ("answer_sycophancy_rate", "answer_sycophancy_gap", "seed.answer_sycophancy_rate",
                            "aggregate_sycophancy", "seed.aggregate_sycophancy")
"""Judged metrics a checkpoint may be kept by (lower is better for each)."""


class CheckpointPolicy(BaseModel):
    """Mid-training evaluation and which checkpoint becomes the method's model.

    Every `eval_every` optimiser steps (and at the last step) the live model gets a judged mini-evaluation
    (generation + the study's judge on the first `eval_questions` questions of the evaluation sets) and
    the logit proxy on the same questions; both curves go to `training/<name>/checkpoints.csv`. The best
    checkpoint so far by `select_by` (`judged_metric` or `proxy_metric`, lower is better) is saved in
    `training/<name>/best/`, outside TRL's checkpoint folder, so `save_total_limit` rotation can never
    delete it (the reference study lost its best GRPO checkpoint that way, and its proxy, which picked
    checkpoints, said GRPO's gap was 0.26 where the judge said 0.027). With `eval_every` null nothing is
    evaluated and the last step is the model.
    """

    model_config = ConfigDict(extra="forbid")

    eval_every: int | None = Field(
        None, gt=0, description="Optimiser steps between checkpoint evaluations; null evaluates nothing (last step kept)."
    )
    select_by: Literal["judged", "proxy", "last"] = Field(
        "judged", description="Which checkpoint becomes the method's model: best by the judged mini-evaluation, "
        "best by the logit proxy, or the last step."
    )
    judged_metric: Literal[JUDGED_SELECTION_METRICS] = Field(  # type: ignore[valid-type]
        "answer_sycophancy_rate", description="Judged metric that ranks checkpoints under select_by judged; lower is better."
    )
    proxy_metric: Literal["proxy_sycophancy", "logit_gap", "gap"] = Field(
        "proxy_sycophancy", description="Proxy metric that ranks checkpoints under select_by proxy; lower is better."
    )
    eval_questions: int = Field(
        24, gt=0, description="Questions per evaluation set in the judged mini-evaluation (every template of each)."
    )
    min_plain_accuracy: float | None = Field(
        0.2, ge=0, le=1, description="A checkpoint whose judged plain accuracy is below this is never kept by the judge "
        "(a collapsed model that answers nothing has no sycophancy); null: no floor."
    )
    max_hedged_rate: float | None = Field(
        None, ge=0, le=1, description="A checkpoint whose judged hedged rate (the share of answer replies that hedge) "
        "is above this is never kept by the judge (a model that hedges adopts no suggestion and flips nothing); "
        "null: no ceiling."
    )
    save_steps: int | None = Field(
        None, gt=0, description="Steps between TRL resumable checkpoints (weights + optimiser); null saves none."
    )
    save_total_limit: int | None = Field(
        3, gt=0, description="TRL keeps only the last K resumable checkpoints (the best/ folder is separate)."
    )
    proxy_batch_size: int = Field(32, gt=0, description="Batch size of the logit-proxy forward passes.")
    proxy_max_items: int | None = Field(
        None, gt=0, description="Without evaluation sets (a method run alone): use the first N proxy-file items."
    )

    @model_validator(mode="after")
    def _selection_needs_evaluations(self) -> CheckpointPolicy:
        if "select_by" in self.model_fields_set and self.select_by != "last" and self.eval_every is None:
            raise ValueError(f"select_by '{self.select_by}' expected eval_every (steps between checkpoint evaluations), "
                             "got null")
        return self


class TrainingConfig(BaseModel):
    """Hyperparameters shared by every training method (mapped onto transformers/TRL TrainingArguments).

    Defaults suit a multi-billion-parameter model; configs/tiny.yaml holds the values for the tiny world's
    model trained from scratch, which needs learning rates 10-100x higher (docs/tuning.md).
    """

    model_config = ConfigDict(extra="forbid")

    learning_rate: float = Field(2e-5, gt=0, description="Peak AdamW learning rate.")
    num_train_epochs: float = Field(1.0, gt=0, description="Passes over the training data (when max_steps is -1).")
    max_steps: int = Field(-1, ge=-1, description="Optimiser steps to run; -1 runs num_train_epochs instead.")
    per_device_train_batch_size: int = Field(8, gt=0, description="Examples per device per forward pass.")
    gradient_accumulation_steps: int = Field(1, gt=0, description="Forward passes per optimiser step.")
    max_length: int | None = Field(
        1024, gt=0, description="Longest tokenized sequence (prompt + completion); null disables truncation."
    )
    logging_steps: int = Field(10, gt=0, description="Optimiser steps between diagnostics rows.")
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0, description="Share of the steps with linear learning-rate warmup.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    adam_beta2: float = Field(
        0.999, gt=0.0, lt=1.0, description="AdamW second-moment decay (0.95 suits training from scratch)."
    )
    lr_scheduler_type: Literal["linear", "cosine", "constant", "constant_with_warmup", "cosine_with_min_lr"] = Field(
        "linear", description="Learning-rate schedule after warmup."
    )
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    seed: int | None = Field(None, ge=0, description="Training seed; null uses the study seed.")
    lora: LoraSettings | None = Field(None, description="LoRA settings; null means full fine-tuning.")
    checkpoint: CheckpointPolicy = Field(default_factory=CheckpointPolicy, description="Checkpoint policy.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in backward to save memory.")
    bf16: bool = Field(False, description="bfloat16 mixed precision (GPU only; always off on CPU).")

    @field_validator("max_steps")
    @classmethod
    def _steps_or_epochs(cls, value: int) -> int:
        if value == 0:  # TRL would still take one step
            raise ValueError("max_steps must be >= 1, or -1 to run num_train_epochs (got 0)")
        return value


# --- TRL arguments ----------------------------------------------------------------------------------


TRL_SAME_NAME_FIELDS = ("learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
                        "gradient_accumulation_steps", "logging_steps", "weight_decay", "adam_beta2",
                        "lr_scheduler_type", "max_grad_norm")
"""`TrainingConfig` fields passed to TrainingArguments as they are, under the same name (the others are mapped
by `build_trl_args`: warmup_ratio, seed, bf16, gradient_checkpointing, max_length, checkpoint)."""


def training_seed(cfg: TrainingConfig, ctx: MethodContext) -> int:
    """The config's own seed, else the study seed."""
    return ctx.seed if cfg.seed is None else cfg.seed


def build_trl_args(
    args_cls: type[TrainingArgs], cfg: TrainingConfig, ctx: MethodContext, **method_args: Any
) -> TrainingArgs:
    """TRL/transformers arguments for `cfg`: CPU or GPU from `ctx.use_cpu`, bf16 only off-CPU, `report_to` from
    ctx, TRL's resumable checkpoints under `training/<name>/checkpoints`. `method_args` are the trainer's own
    fields (beta, loss_type, ...). `max_length` is passed only to trainers that have it."""
    import dataclasses

    policy = cfg.checkpoint
    common: dict[str, Any] = dict(
        output_dir=str(ctx.work_dir / "checkpoints"),
        **cfg.model_dump(include=set(TRL_SAME_NAME_FIELDS)),
        logging_first_step=True,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float below 1 is a ratio of the total steps
        seed=training_seed(cfg, ctx),
        data_seed=training_seed(cfg, ctx),
        use_cpu=ctx.use_cpu,
        bf16=cfg.bf16 and not ctx.use_cpu,
        fp16=False,
        report_to=list(ctx.report_to),
        # transformers 5 renamed gradient_checkpointing (TRL still defaults the old name to True)
        gradient_checkpointing=None,
        activation_checkpointing=cfg.gradient_checkpointing,
        save_strategy="steps" if policy.save_steps else "no",
        save_steps=policy.save_steps or 500,
        save_total_limit=policy.save_total_limit,
        dataloader_pin_memory=not ctx.use_cpu,
        disable_tqdm=True,
    )
    names = {f.name for f in dataclasses.fields(args_cls)}
    if "max_length" in names:
        common["max_length"] = cfg.max_length
    common.update(method_args)
    return args_cls(**common)
