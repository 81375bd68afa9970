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
