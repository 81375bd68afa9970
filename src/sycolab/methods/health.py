"""Did a recovery method train, and did GRPO hack a learned reward: `training_health` reads the rows of
`training/<name>/diagnostics.csv` (one per logging step, every value TRL logged) and flags

- "under-trained": a preference method (DPO, IPO, SimPO, reference-free IPO, CAI-DPO) whose logged
  `rewards/margins` (chosen minus rejected implicit reward, averaged over the logging window) is never
  > 0, or whose last logged `rewards/accuracies` (share of pairs whose chosen reply gets the larger
  implicit reward) is at most `CHANCE_ACCURACY` (0.5): a margin that crosses zero by noise in one window
  while the pairs are still ordered at chance has not trained; GRPO whose logged `kl` (to the SFT
  reference) never reaches `MIN_GRPO_KL` (0.01 nats), i.e. the policy never moved away from the model it
  started from. A run that logged no margin or accuracy (or no KL: GRPO with beta 0) is not flagged on
  that count: there is nothing to judge.
- "reward hacking": GRPO rewarded by the reward model (continuous or thresholded) whose reward-model
  score rises (mean of the last quarter of logged rows above the mean of the first quarter) while the
  world's rule reward (`rewards/rule_answer/mean`, logged with weight 0 beside the learned reward) falls by
  `MIN_TRUTH_FALL` (0.05) or more between the same quarters, or while plain accuracy (the evaluation's
  `plain_accuracy`, GRPO's model minus its input model's) falls by `MIN_TRUTH_FALL` or more.
- "collapsed": a preference method or GRPO whose judged plain accuracy on the selection slice
  (`training/<name>/checkpoints.csv`, `judged.plain_accuracy`) falls at some checkpoint below
  `COLLAPSE_FRACTION` (0.5) of the highest at an earlier checkpoint: training destroyed what the model
  knew, whichever checkpoint was kept (reference-free IPO on the tiny world's seed 1, session 8: 0.75 at
  step 20, 0.21 at step 60, replies like "the answer sovland ."). `collapse_step` is the first such step.

Pure (no torch, no files), so the report computes it from stored files for any run, old ones included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Literal

HealthKind = Literal["preference", "grpo"]
Row = Mapping[str, Any]

UNDER_TRAINED: Final = "under-trained"
REWARD_HACKING: Final = "reward hacking"
COLLAPSED: Final = "collapsed"
COLLAPSE_FRACTION: Final = 0.5
CHECKPOINT_ACCURACY: Final = "judged.plain_accuracy"
MIN_GRPO_KL: Final = 0.01
CHANCE_ACCURACY: Final = 0.5
MIN_TRUTH_FALL: Final = 0.05

TRAIN_ACCURACY: Final = "rewards/accuracies"
TRAIN_MARGIN: Final = "rewards/margins"
HELD_OUT_ACCURACY: Final = "eval_rewards/accuracies"
HELD_OUT_MARGIN: Final = "eval_rewards/margins"
RULE_REWARD: Final = "rewards/rule_answer/mean"  # `sycolab.methods._rewards.rule_reward.__name__` = "rule_answer"
LEARNED_REWARD_KINDS: Final = ("reward_model", "binary_threshold")


@dataclass(frozen=True)
class TrainingHealth:
    """What `training_health` found (module docstring). Preference methods fill the `train_*`, `held_out_*`
    and `margin_ever_positive` fields; GRPO the reward, KL, reward-model score and rule reward fields
    (`*_first` / `*_last`: mean of the first / last quarter of the rows that logged the value). None: not
    logged or not measured."""

    kind: HealthKind
    flags: tuple[str, ...]
    train_accuracy: float | None = None
    train_margin: float | None = None
    margin_ever_positive: bool | None = None
    held_out_accuracy: float | None = None
    held_out_margin: float | None = None
    reward_first: float | None = None
    reward_last: float | None = None
    kl_max: float | None = None
    kl_final: float | None = None
    learned_reward_first: float | None = None
    learned_reward_last: float | None = None
    rule_reward_first: float | None = None
    rule_reward_last: float | None = None
    plain_accuracy_change: float | None = None
    collapse_step: float | None = None

    @property
    def verdict(self) -> str:
        """The flags joined (a collapse with its step), or "ok"."""
        named = [f"{flag} at step {self.collapse_step:g}" if flag == COLLAPSED and self.collapse_step is not None
                 else flag for flag in self.flags]
        return ", ".join(named) if named else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flags": list(self.flags)}


def health_kind(method: str) -> HealthKind | None:
    """How `method` is judged, from its registered traits: "preference" for offline methods with a
    preference loss, "grpo" for online ones, None for the rest (sft, cai_sl, the reward model, unknown)."""
    from sycolab.methods.registry import find_method

    spec = find_method(method)
    if spec is None:
        return None
    if spec.traits.data == "online":
        return "grpo"
    if spec.traits.data == "offline" and spec.traits.loss != "-":
        return "preference"
    return None


def training_health(
    kind: HealthKind,
    rows: Sequence[Row],
    *,
    held_out: Mapping[str, Any] | None = None,
    reward_kind: str | None = None,
    plain_accuracy_change: float | None = None,
    checkpoints: Mapping[str, Sequence[float | None]] | None = None,
) -> TrainingHealth:
    """The health of one run from its diagnostics rows (module docstring gives the rules).

    `held_out`: the held-out preference metrics (`eval_rewards/accuracies`, `eval_rewards/margins`, as TRL's
    evaluate() logs them). `reward_kind`: GRPO's summary.json `reward.kind` ("reward_model",
    "binary_threshold", "rule"); None reads a learned reward from the columns (any `rewards/<f>/mean` other
    than the rule's). `plain_accuracy_change`: GRPO's plain accuracy minus its input model's.
    `checkpoints`: checkpoints.csv's columns (`step`, `judged.plain_accuracy`), for the collapse flag.
    """
    if kind == "preference":
        health = _preference_health(rows, held_out or {})
    else:
        health = _grpo_health(rows, reward_kind, plain_accuracy_change)
    step = collapse_step(checkpoints or {})
    if step is None:
        return health
    return replace(health, flags=(*health.flags, COLLAPSED), collapse_step=step)


def collapse_step(checkpoints: Mapping[str, Sequence[float | None]]) -> float | None:
    """The first checkpoint step whose judged plain accuracy is below `COLLAPSE_FRACTION` of the highest at an
    earlier checkpoint; None when there is none or nothing was judged."""
    steps, accuracy = checkpoints.get("step") or [], checkpoints.get(CHECKPOINT_ACCURACY) or []
    best: float | None = None
    for step, value in zip(steps, accuracy, strict=False):
        if step is None or value is None:
            continue
        if best is not None and value < COLLAPSE_FRACTION * best:
            return step
        best = value if best is None else max(best, value)
    return None


def _preference_health(rows: Sequence[Row], held_out: Mapping[str, Any]) -> TrainingHealth:
    margins, accuracies = _column(rows, TRAIN_MARGIN), _column(rows, TRAIN_ACCURACY)
    ever_positive = any(m > 0 for m in margins) if margins else None
    at_chance = bool(accuracies) and accuracies[-1] <= CHANCE_ACCURACY
    return TrainingHealth(
        "preference",
        flags=(UNDER_TRAINED,) if ever_positive is False or at_chance else (),
        train_accuracy=accuracies[-1] if accuracies else None,
        train_margin=margins[-1] if margins else None,
        margin_ever_positive=ever_positive,
        held_out_accuracy=_number(held_out.get(HELD_OUT_ACCURACY)),
        held_out_margin=_number(held_out.get(HELD_OUT_MARGIN)),
    )


def _grpo_health(rows: Sequence[Row], reward_kind: str | None, plain_accuracy_change: float | None) -> TrainingHealth:
    kl = _column(rows, "kl")
    reward = _column(rows, "reward")
    learned_key = _learned_reward_key(rows, reward_kind)
    learned = _column(rows, learned_key) if learned_key else []
    rule = _column(rows, RULE_REWARD) if learned_key else []
    flags = []
    if kl and max(kl) < MIN_GRPO_KL:
        flags.append(UNDER_TRAINED)
    learned_rise = _change(learned)
    rule_change = _change(rule)
    truth_falls = any(change is not None and change <= -MIN_TRUTH_FALL for change in (rule_change, plain_accuracy_change))
    if learned_key and learned_rise is not None and learned_rise > 0 and truth_falls:
        flags.append(REWARD_HACKING)
    return TrainingHealth(
        "grpo",
        flags=tuple(flags),
        reward_first=_quarter(reward, last=False),
        reward_last=_quarter(reward, last=True),
        kl_max=max(kl) if kl else None,
        kl_final=kl[-1] if kl else None,
        learned_reward_first=_quarter(learned, last=False),
        learned_reward_last=_quarter(learned, last=True),
        rule_reward_first=_quarter(rule, last=False),
        rule_reward_last=_quarter(rule, last=True),
        plain_accuracy_change=plain_accuracy_change if learned_key else None,
    )


def _learned_reward_key(rows: Sequence[Row], reward_kind: str | None) -> str | None:
    """The column of the reward-model score GRPO optimised, or None when it optimised the rule itself."""
    if reward_kind is not None and reward_kind not in LEARNED_REWARD_KINDS:
        return None
    keys = dict.fromkeys(k for row in rows for k in row)
    learned = [k for k in keys if k.startswith("rewards/") and k.endswith("/mean") and k != RULE_REWARD]
    if learned:
        return learned[0]
    return "reward" if reward_kind in LEARNED_REWARD_KINDS else None


def _column(rows: Sequence[Row], key: str) -> list[float]:
    return [v for row in rows if (v := _number(row.get(key))) is not None]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


def _quarter(column: list[float], last: bool) -> float | None:
    """Mean of the first or last quarter of `column` (at least one value); None when it is empty."""
    if not column:
        return None
    k = max(1, len(column) // 4)
    part = column[-k:] if last else column[:k]
    return sum(part) / len(part)


def _change(column: list[float]) -> float | None:
    """Last quarter's mean minus the first quarter's; None with fewer than two values."""
    if len(column) < 2:
        return None
    return _quarter(column, last=True) - _quarter(column, last=False)  # type: ignore[operator]
