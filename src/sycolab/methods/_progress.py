"""A progress bar with time left for a training stage, drawn on the terminal only (see sycolab.console)."""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from sycolab.console import progress_bar


class StepProgressCallback(TrainerCallback):
    """One bar per training run over `state.max_steps` optimiser steps, on the main process only."""

    def __init__(self, name: str):
        self.name = name
        self.bar: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if getattr(state, "is_world_process_zero", True):
            self.bar = progress_bar(int(state.max_steps or 0), f"train:{self.name}")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
