"""`reward_model`: the SFT backbone with a scalar head, trained on the preference pairs (TRL RewardTrainer).

Bradley-Terry loss: -log sigmoid(r(x, y_w) - r(x, y_l)), r the score head's output at the last token
(AutoModelForSequenceClassification with num_labels=1). Not a causal LM, so it is not evaluated; `grpo`
uses it as its reward.

`summary.json` gets train and held-out (`ctx.data["preference_heldout"]`) accuracy (share of pairs with
r(y_w) > r(y_l)) and mean margin (mean of r(y_w) - r(y_l)), computed after training over all pairs at once
(TRL's own logged accuracy is a mean of per-batch means). It also gets, and the model
folder's `reward_stats.json` keeps, the **median reward-model score on SFT-policy samples**: one sample
per GRPO training prompt (`ctx.data["grpo_prompts"]`, or the preference prompts when absent), drawn from
the SFT model (the RM's backbone and GRPO's starting policy) at `median_temperature` before training.
These are the completions GRPO's binary variant thresholds at step 0, so thresholding at their median
splits its first rewards about evenly into +1 and -1. `summary.json` also keeps those scores
(`policy_scores`, sorted) and `threshold_calibration`, the share of them above each of a range of thresholds
(`threshold_calibration()`): the table the reference study read its binary threshold (1.9) from.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from sycolab.io import read_jsonl
from sycolab.methods.config import TrainingConfig, training_seed
from sycolab.methods.lifecycle import ModelKind, TrainingInputs, TrainingRecipe, TrainingSetup, run_recipe
from sycolab.methods.loading import data_path, load_causal_lm, load_tokenizer_for
from sycolab.methods.registry import MethodContext, register_method

REWARD_STATS = "reward_stats.json"
PAIR_COLUMNS = ("prompt", "chosen", "rejected")
CALIBRATION_POINTS = 9


class RewardModelConfig(TrainingConfig):
    """Reward-model hyperparameters plus how to sample the completions whose median score is recorded."""

    learning_rate: float = Field(1e-5, gt=0, description="Peak AdamW learning rate.")
    center_rewards_coefficient: float | None = Field(
        None, ge=0, description="Weight of the mean-zero reward penalty (Eisenstein et al. 2023); null disables."
    )
    median_samples: int = Field(256, gt=0, description="Prompts sampled from the SFT policy for the median score.")
    median_temperature: float = Field(0.7, gt=0, description="Sampling temperature of those policy samples.")
    median_max_new_tokens: int = Field(64, gt=0, description="Longest policy sample, in tokens.")

    @model_validator(mode="after")
    def _rm_constraints(self) -> RewardModelConfig:
        if self.checkpoint.eval_every is not None:
            raise ValueError(
                "checkpoint.eval_every: expected null (the logit proxy needs a causal LM, the reward model is a "
                f"scorer), got {self.checkpoint.eval_every}"
            )
        if self.lora is not None and not self.lora.merge:
            raise ValueError("lora.merge: expected true (grpo loads the reward model as a plain scorer), got false")
        return self


def reward_trainer() -> tuple[type, type]:
    from trl import RewardConfig, RewardTrainer

    return RewardTrainer, RewardConfig


def loss_args(cfg: RewardModelConfig) -> dict[str, Any]:
    return {"center_rewards_coefficient": cfg.center_rewards_coefficient}


def load_scalar_head(source: Path, ctx: MethodContext, tokenizer: Any) -> Any:
    """The SFT backbone with a new one-output score head (AutoModelForSequenceClassification, num_labels=1)."""
    from transformers import AutoModelForSequenceClassification

    from sycolab.models.load import resolve_dtype

    model = AutoModelForSequenceClassification.from_pretrained(
        str(source), num_labels=1, dtype=resolve_dtype(ctx.dtype), trust_remote_code=ctx.trust_remote_code
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


SCALAR_HEAD = ModelKind(load=load_scalar_head, auto_class="AutoModelForSequenceClassification",
                        base_kwargs={"num_labels": 1}, lora_task="SEQ_CLS", causal_lm=False)


@dataclass
class RewardInputs(TrainingInputs):
    heldout: list[dict[str, Any]] | None = None         # held-out pairs (accuracy), when the run has them
    prompts: list[list[dict]] = field(default_factory=list)  # prompts of the SFT-policy samples
    samples: list[str] = field(default_factory=list)     # one SFT-policy sample per prompt
    median_source: str = ""


def reward_inputs(setup: TrainingSetup) -> RewardInputs:
    """SFT-policy samples for the median score (drawn first, before the score head is built), then the
    training and held-out preference pairs."""
    ctx, cfg = setup.ctx, setup.config
    prompts, median_source = _median_prompts(ctx, cfg)
    samples = _policy_samples(setup.source, ctx, cfg, prompts)
    rows = setup.rows("preference", PAIR_COLUMNS)
    heldout = setup.rows("preference_heldout", PAIR_COLUMNS) if "preference_heldout" in ctx.data else None
    return RewardInputs(rows=rows, heldout=heldout, prompts=prompts, samples=samples, median_source=median_source)


def reward_statistics(setup: TrainingSetup, trainer: Any, inputs: RewardInputs, diagnostics: Any) -> dict[str, Any]:
    """Train and held-out pair statistics, and the median score of the SFT-policy samples with its calibration."""
    from sycolab.methods._rewards import RewardModelScorer

    stats: dict[str, Any] = {}
    scorer = RewardModelScorer(trainer.model, setup.tokenizer)
    for split, rows in (("train", inputs.rows), ("heldout", inputs.heldout)):
        if rows is not None:
            stats.update({f"{split}_{k}": v for k, v in pair_statistics(scorer, rows).items()})
    scores = scorer(inputs.prompts, inputs.samples)
    stats.update(
        median_score=statistics.median(scores),
        median_source=inputs.median_source,
        median_n=len(scores),
        median_temperature=setup.config.median_temperature,
        policy_scores=sorted(scores),
        threshold_calibration=threshold_calibration(scores),
    )
    return stats


RECIPE = TrainingRecipe(method="reward_model", trainer=reward_trainer, loss_args=loss_args, inputs=reward_inputs,
                        model=SCALAR_HEAD, summary=reward_statistics, files=lambda stats: {REWARD_STATS: stats})


@register_method("reward_model", config=RewardModelConfig, produces_causal_lm=False)
def run(ctx: MethodContext) -> dict[str, Any]:
    """Bradley-Terry reward model on the SFT backbone: minimise -log sigmoid(r(x, y_w) - r(x, y_l))."""
    return run_recipe(ctx, RECIPE)


def pair_statistics(scorer: Any, rows: list[dict]) -> dict[str, float | int]:
    """accuracy = share of pairs with r(x, y_w) > r(x, y_l); margin = mean of r(x, y_w) - r(x, y_l); pairs = n."""
    prompts = [row["prompt"] for row in rows]
    chosen = scorer(prompts, [row["chosen"] for row in rows])
    rejected = scorer(prompts, [row["rejected"] for row in rows])
    diffs = [c - r for c, r in zip(chosen, rejected, strict=True)]
    return {"accuracy": sum(d > 0 for d in diffs) / len(diffs), "margin": sum(diffs) / len(diffs), "pairs": len(diffs)}


def threshold_calibration(scores: Sequence[float], thresholds: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """Rows {threshold, n_above, share_above}: how many of the SFT-policy `scores` exceed each threshold, i.e.
    how often GRPO's binary reward (+1 where score > threshold) would be +1 on them at step 0. Default
    thresholds: CALIBRATION_POINTS evenly spaced from the lowest to the highest score, plus the median.

    scores [0, 1, 2, 3], thresholds [0.5, 2] -> shares 3/4 and 1/4 (a score equal to the threshold is not above).
    """
    if not scores:
        return []
    if thresholds is None:
        low, high = min(scores), max(scores)
        step = (high - low) / (CALIBRATION_POINTS - 1)
        thresholds = [low + i * step for i in range(CALIBRATION_POINTS)] + [statistics.median(scores)]
    rows = []
    for threshold in sorted({float(t) for t in thresholds}):
        above = sum(score > threshold for score in scores)
        rows.append({"threshold": threshold, "n_above": above, "share_above": above / len(scores)})
    return rows


def zero_std_share_if_independent(share_above: float, num_generations: int) -> float:
    """Share of GRPO groups whose `num_generations` binary rewards are all equal (frac_reward_zero_std) if each
    sample were +1 independently with probability `share_above`: p**G + (1 - p)**G (0.5, 8 -> 2/256). An
    observed share far above it means rewards are set by the prompt, not the sample."""
    return share_above**num_generations + (1 - share_above) ** num_generations


def _median_prompts(ctx: MethodContext, cfg: RewardModelConfig) -> tuple[list[list[dict]], str]:
    """The first `median_samples` GRPO training prompts (else preference prompts) and a label for the source."""
    if "grpo_prompts" in ctx.data:
        rows, label = read_jsonl(data_path(ctx, "grpo_prompts", "reward_model")), "sft_policy_samples_on_grpo_prompts"
    else:
        rows, label = read_jsonl(data_path(ctx, "preference", "reward_model")), "sft_policy_samples_on_preference_prompts"
    return [row["prompt"] for row in rows[: cfg.median_samples]], label


def _policy_samples(source: Path, ctx: MethodContext, cfg: RewardModelConfig, prompts: list[list[dict]]) -> list[str]:
    """One sampled completion per prompt from the SFT causal LM (freed before the reward model is built)."""
    from sycolab.generation.base import SamplingParams
    from sycolab.generation.hf import HFBackend

    policy = load_causal_lm(source, ctx)
    if not ctx.use_cpu:
        from sycolab.models.load import default_device

        policy.to(default_device())  # type: ignore[arg-type]  # transformers' @wraps(Module.to) stub drops the bound self
    backend = HFBackend(policy, load_tokenizer_for(source, ctx), model_id=str(source), progress=False)
    params = SamplingParams(
        max_new_tokens=cfg.median_max_new_tokens, temperature=cfg.median_temperature, seed=training_seed(cfg, ctx)
    )
    completions = [c[0] for c in backend.generate(prompts, params)]
    del policy, backend
    return completions
