"""Configuration of the probing stage (`probe:` section of a study config).

Defaults are sized for the tiny world (hidden 128, 4 layers, a few hundred pressured prompts per model):
the whole stage, extraction included, runs in seconds on two CPU cores. For Qwen3-8B the same defaults are
sensible; raise `batch_size` on a GPU. The MLP probe (`kinds: [logistic, mlp]`) is off by default: it is
the slowest part of the statistics (7.5 of 47 CPU s of a tiny seed's probe stage, one thread), and the lighter
default keeps the probe stage within its 30 s budget (issue #18).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ProbeKind = Literal["logistic", "mlp"]
#: The answer position's name in tables and on disk.
ANSWER = "answer"


def position_label(position: str | int) -> str:
    """A position as it appears in tables and folder names: "last", "mean", "-2", "answer"."""
    return str(position)


class PatchingConfig(BaseModel):
    """Activation patching (neutral -> pressured prompt, one layer and position at a time: the last prompt
    token and, with `probe.answer_position`, the answer position)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    max_prompts: int = Field(32, ge=1, description="pressured prompts patched per model (first N with a neutral twin)")


class SteeringConfig(BaseModel):
    """Mean-difference steering of the source (`probe.transfer_from`) model, and its evaluation as a model.

    `alphas` are in units of the steering direction's own norm: steering subtracts alpha times the mean
    difference between the source's sycophantic and honest residuals at `layer` (alpha 1 removes exactly
    that difference; Turner et al. 2023, Rimsky et al. 2024). alpha 0 (the unsteered model) is always part
    of the sweep. A seeded `tune_fraction` of the answer questions builds the direction and chooses alpha:
    the lowest answer sycophancy among alphas whose plain accuracy stays within `max_accuracy_drop` of the
    unsteered model's on those questions and whose hedged rate rises by at most `max_hedged_rise`. With `evaluate`, the steered model at the kept alpha is then
    evaluated on every behaviour, on the other questions only, as model `<source>+steer`.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    layer: Literal["peak"] | int = "peak"
    alphas: list[float] = Field(default_factory=lambda: [0.0, 0.5, 1.0, 2.0, 4.0])
    tune_fraction: float = Field(0.4, gt=0.0, lt=1.0, description="share of answer questions held out for tuning")
    max_accuracy_drop: float = Field(0.05, ge=0.0, le=1.0)
    max_hedged_rise: float = Field(0.05, ge=0.0, le=1.0)
    evaluate: bool = True

    @field_validator("alphas")
    @classmethod
    def _alphas(cls, value: list[float]) -> list[float]:
        bad = [a for a in value if not math.isfinite(a)]
        if bad:
            raise ValueError(f"alphas must be finite numbers, got {bad}")
        if len(set(value)) != len(value):
            raise ValueError(f"duplicate alphas in {value}")
        return sorted(set(value) | {0.0})


class InterventionConfig(BaseModel):
    """Direction intervention with the source model's logistic probe direction at its peak layer:
    `remove` (project the direction out at every position) and `add` for each of `add_alphas`
    (fractions of the typical, median, residual norm at that layer; the probe direction has no norm of its own)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    add_alphas: list[float] = Field(default_factory=lambda: [0.2])


class ProbeConfig(BaseModel):
    """Everything the probing stage does and how hard it tries.

    - `position`: which token's residual of the prompt is probed: "last" (last prompt token, the
      reference study's choice), "mean" (mean over the prompt's real tokens), or a negative int indexing
      from the end (-1 = last, -2 = the token before it). Steering and interventions use this position.
    - `answer_position`: also probe, transfer and patch at the answer position: the last token of the
      assistant prefix `answer_prefix` appended to the prompt as an open assistant turn (rendered as the
      are-you-sure evaluation renders its "the answer is" turn), the token whose logits predict the
      answer word. Every probe table has a `position` column ("last" | "mean" | "-2" ... | "answer").
    - `answer_prefix`: that prefix; None = the evaluated data's own: the tiny world's "the answer is"
      (`sycolab.data.prompts.ANSWER_PREFIX`) on world data, else "The answer is" (the logit proxy's frame).
    - `layers`: "all" (the embeddings, layer -1, and every decoder layer) or a list of decoder layer
      indices, -1 meaning the embeddings.
    - `cv_folds`: question groups for cross-fitting (fewer when there are fewer questions); the same
      assignment of questions to groups serves every model, own probes and transfer alike.
    - `min_per_class`: below this many sycophantic or honest samples, no probe is fit for a model.
    - `exclude_hedged`: leave hedged (and judge-flagged refused) replies out of the probe labels, as the
      reference study did; their counts are in labels.csv. False labels them honest (not sycophantic).
    - `n_permutations`: permutations for transfer p-values (the smallest reachable p is 1/(n+1) per target,
      k/(n+1) after Holm over k targets).
    - `n_null`: question-preserving label permutations giving each layer's null (>= 100); "above chance"
      means above the null's 95th percentile.
    - `n_bootstrap`: question resamples for the 95% AUROC intervals.
    - `logistic_c`: inverse L2 strength of the logistic probe on standardised features.
    - `max_iter`: the logistic probe's iteration cap (Newton steps; L-BFGS-B iterations above width 1024).
    - `mlp_hidden`, `mlp_steps`, `mlp_lr`: the MLP probe's one hidden layer width, and its fixed number of
      full-batch Adam steps at that learning rate (`sycolab.probing.mlp`).
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    position: Literal["last", "mean"] | int = "last"
    answer_position: bool = True
    answer_prefix: str | None = None
    layers: Literal["all"] | list[int] = "all"
    kinds: list[ProbeKind] = ["logistic"]
    cv_folds: int = Field(5, ge=2)
    min_per_class: int = Field(10, ge=2)
    exclude_hedged: bool = True
    n_permutations: int = Field(1000, ge=19)
    n_null: int = Field(200, ge=100)
    n_bootstrap: int = Field(1000, ge=100)
    transfer_from: str = "sft"
    ablation_k: int = Field(3, ge=1)
    patching: PatchingConfig = Field(default_factory=PatchingConfig)
    steering: SteeringConfig = Field(default_factory=SteeringConfig)
    intervention: InterventionConfig = Field(default_factory=InterventionConfig)
    batch_size: int = Field(16, ge=1)
    seed: int = 0
    logistic_c: float = Field(1.0, gt=0.0)
    mlp_hidden: int = Field(32, ge=1)
    mlp_steps: int = Field(100, ge=1)
    mlp_lr: float = Field(0.02, gt=0.0)
    max_iter: int = Field(200, ge=10)

    @field_validator("position")
    @classmethod
    def _negative_offset(cls, value: str | int) -> str | int:
        if isinstance(value, int) and value >= 0:
            raise ValueError(f"an int position counts from the end and must be negative (-1 = last token), got {value}")
        return value

    @field_validator("answer_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError('give the assistant prefix that precedes the answer word (e.g. "The answer is"), or null')
        return value

    def positions(self) -> list[str | int]:
        """The probed positions in order: `position`, then "answer" with `answer_position`."""
        return [self.position, *([ANSWER] if self.answer_position else [])]

    @field_validator("layers")
    @classmethod
    def _layer_list(cls, value: str | list[int]) -> str | list[int]:
        if isinstance(value, list):
            if not value:
                raise ValueError('give at least one layer, or "all"')
            bad = [v for v in value if v < -1]
            if bad:
                raise ValueError(f"layer indices are decoder layers >= 0, or -1 for the embeddings; got {bad}")
            if len(set(value)) != len(value):
                raise ValueError(f"duplicate layers in {value}")
        return value

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('give at least one probe kind ("logistic", "mlp")')
        if "logistic" not in value:
            raise ValueError('"logistic" is required: transfer, geometry and ablation use its direction')
        return list(dict.fromkeys(value))
