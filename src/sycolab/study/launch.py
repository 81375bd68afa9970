"""Run one training method: in this process, or under `accelerate launch` with several processes."""

from __future__ import annotations

from typing import Any

from sycolab.config.sections import ExecutionConfig
from sycolab.methods.registry import MethodContext, MethodSpec


def run_method(spec: MethodSpec, ctx: MethodContext, execution: ExecutionConfig) -> Any:
    """Train `spec` on `ctx`. With `execution.launcher == "accelerate"` the method runs in child
    processes started by `accelerate launch` (DDP / DeepSpeed / FSDP per the accelerate config)."""
    configure_torch(execution.torch_threads)
    if execution.launcher == "accelerate" and execution.num_processes > 1:
        from sycolab.study.accelerate_launch import launch_with_accelerate

        return launch_with_accelerate(spec, ctx, execution)
    return spec.run(ctx)


def configure_torch(threads: int | None) -> None:
    """Fix torch's intra-op thread count (when given) and ask for deterministic kernels, so that a training
    stage gives the same weights on every run with the same thread count (on CPU a different thread count
    can still change float summation order). `warn_only`: an op without a deterministic kernel warns
    instead of failing the stage."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
