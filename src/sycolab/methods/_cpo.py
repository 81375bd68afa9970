"""TRL's experimental CPOTrainer (SimPO and reference-free IPO run on it), counting non-padding tokens.

CPOTrainer logs no token count, so throughput could not be measured; this subclass adds the cumulative
`num_tokens` (non-padding prompt + chosen + rejected tokens) that the other TRL trainers log.
"""

from __future__ import annotations

from typing import Any

from trl.experimental.cpo import CPOTrainer


class TokenCountingCPOTrainer(CPOTrainer):
    """CPOTrainer that logs `num_tokens`, the cumulative count of non-padding training tokens."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._num_tokens = 0

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None):
        if model.training:
            count = inputs["chosen_attention_mask"].sum() + inputs["rejected_attention_mask"].sum()
            self._num_tokens += int(self.accelerator.gather_for_metrics(count).sum().item())
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            logs["num_tokens"] = float(self._num_tokens)
        super().log(logs, start_time)
