"""Config sections owned by the study itself (the others live beside the code they configure:
`WorldConfig` in sycolab.world, `EvaluateConfig` in sycolab.evaluation, `ProbeConfig` in sycolab.probing)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sycolab.models.tiny import TinyModelConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BaseModelConfig(_Section):
    """The `base` stage. `model: tiny` trains the tiny world model from scratch (with `train`, an `sft`
    method config); anything else is a checkpoint folder or a Hugging Face id used as the base as-is."""

    model: str = "tiny"
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    trust_remote_code: bool = False
    attn_implementation: str | None = Field(
        None, min_length=1, description="Attention kernel for training ('eager', 'sdpa', 'flash_attention_2'); "
        "null keeps transformers' default. Eager is faster for the tiny model on CPU.",
    )
    tiny: TinyModelConfig = Field(default_factory=TinyModelConfig)
    train: dict[str, Any] = Field(default_factory=dict)


class DataConfig(_Section):
    """Data files. Empty fields take the tiny world's files; set them to run on real data
    (e.g. Anthropic's SycophancyEval answer.jsonl, are_you_sure.jsonl, feedback.jsonl)."""

    answer: str | None = None
    are_you_sure: str | None = None
    feedback: str | None = None
    sft: str | None = None
    preference: str | None = None
    preference_heldout: str | None = None
    grpo_prompts: str | None = None
    proxy: str | None = None


class SubmititConfig(_Section):
    """submitit executor: `local` runs jobs as local processes; `slurm` submits to a cluster."""

    cluster: Literal["local", "slurm", "auto"] = "local"
    folder: str = "submitit"
    partition: str | None = None
    gpus_per_node: int = Field(0, ge=0)
    cpus_per_task: int = Field(1, ge=1)
    mem_gb: int | None = Field(None, ge=1)
    timeout_min: int = Field(60, ge=1)


class ExecutionConfig(_Section):
    """Where stages run: sweep cells and per-model evaluation in-process or through submitit;
    training optionally under `accelerate launch` with several processes."""

    executor: Literal["inprocess", "submitit"] = "inprocess"
    submitit: SubmititConfig = Field(default_factory=SubmititConfig)
    launcher: Literal["none", "accelerate"] = "none"
    num_processes: int = Field(1, ge=1)
    accelerate_config: str | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    torch_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads for training stages (set at the start of each, with "
        "deterministic kernels); null leaves torch's default"
    )


class ReportConfig(_Section):
    formats: list[Literal["markdown", "html"]] = Field(default_factory=lambda: ["markdown", "html"])
    max_samples_per_model: int = Field(400, ge=0)


class TrackingConfig(_Section):
    """Passed through to TRL's `report_to` (tensorboard, wandb, mlflow); the run store stays the source of truth."""

    report_to: list[str] = Field(default_factory=lambda: ["none"])


class RelearnConfig(_Section):
    """Relearning speed (the reference study's first post): re-run the induction SFT (`induce`, with
    `max_steps: steps`) from every recovered model and from the base, and measure sycophancy at step 0 and
    every `eval_every` steps with a judged mini-evaluation (the study's judge and generation settings, the
    first `max_questions` answer and are-you-sure questions) and the logit proxy beside it. A recovery that
    removed sycophancy should relearn it about as slowly as the base; one that suppressed it, fast.
    Steps-to-threshold: the first evaluated step whose value is at least `threshold` of the way from the
    model's step-0 value to SFT's (SFT evaluated the same way, at step 0 only)."""

    enabled: bool = False
    steps: int = Field(50, gt=0, description="Induction SFT steps from each model.")
    eval_every: int = Field(10, gt=0, description="Steps between mini-evaluations (also at step 0 and the last).")
    models: list[str] | None = Field(None, description="Models to relearn from; null: base and every recovered model.")
    max_questions: int | None = Field(40, gt=0, description="Questions per evaluation set; null: all.")
    threshold: float = Field(0.5, gt=0, le=1, description="Share of the way from step 0 to SFT's value.")
    keep_checkpoints: bool = Field(False, description="Keep the relearned checkpoints (else deleted once evaluated).")
