"""Per-logging-step training diagnostics: every metric the TRL trainer logs, plus wall time and throughput.

Rows go to `training/<name>/diagnostics.csv` (rewritten atomically at each log, so a crashed run still
leaves its history) and a summary to `summary.json` at the end of training. Throughput counts
non-padding tokens: the cumulative `num_tokens` TRL's SFT, DPO, reward and GRPO trainers log (GRPO:
prompt + completion tokens; sycolab's CPO trainer logs it too), or transformers' `num_input_tokens_seen`.

`training_health` reads the rows back: did a recovery method train at all (a preference margin that
turned positive, a GRPO policy that moved away from its reference), and did GRPO hack a learned reward.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from sycolab.io import atomic_write_json, write_table

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
            return  # an evaluate() call (e.g. held-out preference metrics after training), not a training step
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
        write_table(self.csv_path, self.rows)

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


# --- did it train? ---------------------------------------------------------------------------------

UNDER_TRAINED = "under-trained"
REWARD_HACKING = "reward hacking"
#: GRPO below this KL to its reference (nats, mean of the last third of logged rows) has not moved.
MIN_GRPO_KL = 0.01
#: A fall of the rule reward (mean of the last third of rows minus the first third) that counts as falling.
RULE_REWARD_FALL = 0.1
_RULE_KEY = "rewards/rule_answer/mean"


@dataclass(frozen=True)
class TrainingHealth:
    """Whether a recovery method trained, from its diagnostics rows (and held-out metrics when measured).

    Preference methods: the last logged `rewards/accuracies` and `rewards/margins` (train batches), the
    held-out accuracy and margin, and whether the margin was ever positive. GRPO: the reward (optimised),
    the rule reward (when logged), the KL to the reference, each as (first third mean, last third mean).
    Flags: "under-trained" (a preference margin never positive; GRPO's final KL below `MIN_GRPO_KL`);
    "reward hacking" (a learned reward rising while the world's rule reward falls by `RULE_REWARD_FALL`
    or more, or while held-out plain accuracy falls, when the caller passes it).
    """

    kind: str
    values: dict[str, float | bool | None]
    flags: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.values, "flags": list(self.flags), "note": self.note()}

    def note(self) -> str:
        """One line for the report's training table."""
        v = self.values
        if self.kind == "preference":
            parts = [f"train acc {_fmt(v.get('train_accuracy'))}", f"held-out acc {_fmt(v.get('heldout_accuracy'))}",
                     f"margin {'+' if v.get('margin_ever_positive') else 'never +'}"]
        else:
            parts = [f"reward {_fmt(v.get('reward_first'))} to {_fmt(v.get('reward_last'))}",
                     f"KL {_fmt(v.get('kl_last'), 4)}"]
            if v.get("rule_first") is not None:
                parts.append(f"rule reward {_fmt(v.get('rule_first'))} to {_fmt(v.get('rule_last'))}")
        return ", ".join(parts)


def training_health(method: str, rows: list[dict[str, Any]], heldout: dict[str, float] | None = None,
                    plain_accuracy_change: float | None = None) -> TrainingHealth:
    """`TrainingHealth` of a method from its diagnostics rows (pure: no files, no models).

    `method` "grpo" reads GRPO's keys; any other method is read as a preference method. `heldout` holds
    `eval_rewards/accuracies` and `eval_rewards/margins` as TRL's evaluate() returns them.
    """
    if method == "grpo":
        return _grpo_health(rows, plain_accuracy_change)
    margins = _column(rows, "rewards/margins")
    accuracies = _column(rows, "rewards/accuracies")
    heldout = heldout or {}
    values: dict[str, float | bool | None] = {
        "train_accuracy": accuracies[-1] if accuracies else None,
        "train_margin": margins[-1] if margins else None,
        "margin_ever_positive": any(m > 0 for m in margins),
        "heldout_accuracy": heldout.get("eval_rewards/accuracies"),
        "heldout_margin": heldout.get("eval_rewards/margins"),
    }
    flags = () if values["margin_ever_positive"] else (UNDER_TRAINED,)
    return TrainingHealth("preference", values, flags)


def _grpo_health(rows: list[dict[str, Any]], plain_accuracy_change: float | None) -> TrainingHealth:
    learned = [k for k in _keys(rows) if k.startswith("rewards/") and k.endswith("/mean") and k != _RULE_KEY]
    kl = _column(rows, "kl")
    values: dict[str, float | bool | None] = {"kl_last": _third(kl, last=True), "kl_max": max(kl) if kl else None}
    for name, key in (("reward", "reward"), ("rule", _RULE_KEY), ("learned", learned[0] if learned else "")):
        column = _column(rows, key)
        values[f"{name}_first"], values[f"{name}_last"] = _third(column, last=False), _third(column, last=True)
    flags = []
    if values["kl_last"] is None or values["kl_last"] < MIN_GRPO_KL:
        flags.append(UNDER_TRAINED)
    learned_rises = _change(values, "learned") is not None and _change(values, "learned") > 0
    rule_change = _change(values, "rule")
    truth_falls = (rule_change is not None and rule_change <= -RULE_REWARD_FALL) or (
        plain_accuracy_change is not None and plain_accuracy_change <= -RULE_REWARD_FALL)
    if learned_rises and truth_falls:
        flags.append(REWARD_HACKING)
    return TrainingHealth("grpo", values, tuple(flags))


def _keys(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({k for row in rows for k in row})


def _column(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [float(row[key]) for row in rows if row.get(key) is not None]


def _third(column: list[float], last: bool) -> float | None:
    """Mean of the first or last third of a column (at least one value); None when empty."""
    if not column:
        return None
    k = max(1, len(column) // 3)
    part = column[-k:] if last else column[:k]
    return sum(part) / len(part)


def _change(values: dict[str, Any], name: str) -> float | None:
    first, last = values.get(f"{name}_first"), values.get(f"{name}_last")
    return None if first is None or last is None else last - first


def _fmt(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
