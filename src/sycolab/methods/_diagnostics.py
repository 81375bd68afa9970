"""Per-logging-step training diagnostics: every metric the TRL trainer logs, plus wall time and throughput.

Rows go to `training/<name>/diagnostics.csv` (rewritten atomically at each log, so a crashed run still
leaves its history) and a summary to `summary.json` at the end of training. Throughput counts
non-padding tokens: the cumulative `num_tokens` TRL's SFT, DPO, reward and GRPO trainers log (GRPO:
prompt + completion tokens; sycolab's CPO trainer logs it too), or transformers' `num_input_tokens_seen`.
A log of an `evaluate()` call (only `eval_*` keys, e.g. the held-out preference pairs after training) is
not a training step: it is kept in `evaluations`, not in diagnostics.csv.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from sycolab.io import atomic_write_json
from sycolab.store.records.training import write_training_table

# Keys of the end-of-training log, which summarises the run instead of describing a step.
_FINAL_KEYS = ("train_runtime", "train_loss", "train_samples_per_second", "train_steps_per_second", "total_flos")
_TOKEN_KEYS = ("num_tokens", "num_input_tokens_seen")


class DiagnosticsCallback(TrainerCallback):
    """Collects one row per `on_log`: step, epoch, every numeric logged value, wall_time_s, tokens, tokens_per_s.

    `tokens_per_s` is the rate over the window since the previous row: (tokens - previous tokens) /
    (wall time - previous wall time), with the start of training as the first window's origin.
    """

    def __init__(self, work_dir: Path, clock: Any = time.perf_counter):
        self.work_dir = Path(work_dir)
        self.clock = clock
        self.rows: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, float]] = []
        self.final: dict[str, float] = {}
        self._start: float | None = None
        self._end: float | None = None
        self._last_time = 0.0
        self._last_tokens = 0.0

    @property
    def csv_path(self) -> Path:
        return self.work_dir / "diagnostics.csv"

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._start = self.clock()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or not getattr(state, "is_world_process_zero", True):
            return
        if self._start is None:
            self._start = self.clock()
        if any(key in logs for key in _FINAL_KEYS):
            self.final.update({k: float(v) for k, v in logs.items() if _is_number(v)})
            return
        if all(key.startswith("eval_") or key in ("epoch", "step") for key in logs):
            self.evaluations.append({k: float(v) for k, v in logs.items() if _is_number(v)})
            return
        wall = self.clock() - self._start
        row: dict[str, Any] = {"step": state.global_step}
        row.update({k: float(v) for k, v in logs.items() if _is_number(v) and k != "step"})
        tokens = next((row[k] for k in _TOKEN_KEYS if k in row), None)
        row["wall_time_s"] = wall
        if tokens is not None:
            window = wall - self._last_time
            row["tokens"] = tokens
            row["tokens_per_s"] = (tokens - self._last_tokens) / window if window > 0 else None
            self._last_tokens = tokens
        self._last_time = wall
        self.rows.append(row)
        write_training_table(self.csv_path, self.rows)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end = self.clock()
        if getattr(state, "is_world_process_zero", True):
            atomic_write_json(self.work_dir / "summary.json", self.summary())

    def summary(self) -> dict[str, Any]:
        """Wall time, steps, tokens, mean tokens/s, and the last row's metrics."""
        end = self._end if self._end is not None else self.clock()
        wall = end - self._start if self._start is not None else 0.0
        last = self.rows[-1] if self.rows else {}
        tokens = last.get("tokens")
        return {
            "wall_time_s": wall,
            "steps": int(last.get("step", 0)),
            "tokens": tokens,
            "tokens_per_s": tokens / wall if tokens is not None and wall > 0 else None,
            "train_loss": self.final.get("train_loss"),
            "final_metrics": {k: v for k, v in last.items() if k not in ("step", "wall_time_s", "tokens_per_s")},
        }


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return hasattr(value, "item") and getattr(value, "ndim", 0) == 0
