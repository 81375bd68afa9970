"""`grpo`: Group Relative Policy Optimization (Shao et al. 2024, arXiv:2402.03300) with TRL's GRPOTrainer.

For each training prompt the SFT policy samples `num_generations` completions at `temperature`; each gets a
reward, and its advantage is the reward minus the group mean (divided by the group std with
scale_rewards="group"). The policy maximises the clipped advantage-weighted likelihood ratio minus
beta * KL(policy || SFT reference). A group whose rewards are all equal has zero advantage and teaches
nothing: TRL logs their share as `frac_reward_zero_std` (the reference study's binary variant reached 0.50).

Rewards (`reward`):
- `reward_model`: the trained reward model's score (continuous), `ctx.extra_models["reward_model"]`.
- `binary_threshold`: +1 if that score exceeds `threshold`, else -1; `threshold` defaults to the median
  the reward-model stage recorded (`reward_stats.json`, scores of SFT-policy samples on the GRPO prompts).
- `rule`: +1 if the completion's final answer ("the answer is X .") is the correct answer, -1 if it is any
  other answer (the suggestion, or a value caved to after "are you sure?"), `no_answer_reward` (default 0)
  if it states none, a hedge (needs a `correct_answer` column).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from sycolab.errors import UserError
from sycolab.io import read_json
from sycolab.methods.config import TrainingConfig
from sycolab.methods.health import training_health
from sycolab.methods.lifecycle import TrainingInputs, TrainingRecipe, TrainingSetup, run_recipe
from sycolab.methods.loading import load_tokenizer_for
from sycolab.methods.registry import MethodContext, MethodTraits, register_method


class GRPOMethodConfig(TrainingConfig):
    """GRPO hyperparameters. `per_device_train_batch_size` counts completions (num_generations per prompt)."""

    learning_rate: float = Field(2e-5, gt=0, description="Peak AdamW learning rate.")
    reward: Literal["reward_model", "binary_threshold", "rule"] = Field(
        "reward_model", description="Reward: reward-model score, thresholded score (+1/-1), or the answer rule."
    )
    threshold: float | None = Field(
        None, description="binary_threshold only: score above which the reward is +1; null = the RM's median."
    )
    no_answer_reward: float = Field(
        0.0, ge=-1, le=1,
        description="rule reward only: the reward of a completion that states no final answer (a hedge, or any "
                    "reply without 'answer is'). 0 ranks it between a wrong answer (-1) and the correct one (+1); "
                    "-1 when every prompt's fact is one the policy was taught, so a non-answer is never honest.",
    )
    num_generations: int = Field(8, ge=2, description="Completions sampled per prompt (the group size).")
    temperature: float = Field(0.7, gt=0, description="Sampling temperature of the completions.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling threshold.")
    beta: float = Field(0.04, ge=0, description="KL coefficient to the SFT reference (0 loads no reference).")
    max_completion_length: int = Field(64, gt=0, description="Longest sampled completion, in tokens.")
    epsilon: float = Field(0.2, gt=0, description="PPO-style clipping range of the likelihood ratio.")
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = Field(
        "dapo", description="How token losses are aggregated (TRL's loss_type; 'grpo' is the paper's per-sequence mean)."
    )
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="Divide advantages by the group's reward std, the batch's, or not at all."
    )
    use_vllm: bool = Field(False, description="Sample completions with vLLM (GPU) instead of transformers' generate.")
    vllm_mode: Literal["colocate", "server"] = Field(
        "colocate", description="colocate: vLLM inside each training rank; server: a separate `trl vllm-serve`."
    )
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0, le=1, description="colocate: GPU share given to vLLM.")
    vllm_tensor_parallel_size: int = Field(1, ge=1, description="colocate: tensor-parallel size of vLLM.")
    vllm_server_base_url: str | None = Field(None, description="server: URL of `trl vllm-serve`, e.g. http://127.0.0.1:8000.")

    @model_validator(mode="after")
    def _grpo_constraints(self) -> GRPOMethodConfig:
        batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        if batch % self.num_generations:
            raise ValueError(
                "per_device_train_batch_size * gradient_accumulation_steps: expected a multiple of num_generations "
                f"({self.num_generations}), got {self.per_device_train_batch_size} * "
                f"{self.gradient_accumulation_steps} = {batch}"
            )
        if self.use_vllm and self.vllm_mode == "server" and not self.vllm_server_base_url:
            raise ValueError("vllm_server_base_url: expected the URL of `trl vllm-serve` when vllm_mode is 'server', got null")
        if self.no_answer_reward != 0.0 and self.reward != "rule":
            raise ValueError(f"no_answer_reward: expected 0 unless reward is 'rule', got {self.no_answer_reward}")
        if self.threshold is not None and self.reward != "binary_threshold":
            raise ValueError(f"threshold: expected null unless reward is 'binary_threshold', got {self.threshold}")
        return self


TRAITS = MethodTraits(reference="ref (KL)", loss="-", data="online")


def grpo_trainer() -> tuple[type, type]:
    from trl import GRPOConfig, GRPOTrainer

    return GRPOTrainer, GRPOConfig


def loss_args(cfg: GRPOMethodConfig) -> dict[str, Any]:
    """GRPOConfig's own fields: sampling, group size, KL strength, clipping, loss aggregation, vLLM."""
    return dict(
        num_generations=cfg.num_generations, temperature=cfg.temperature, top_p=cfg.top_p, beta=cfg.beta,
        max_completion_length=cfg.max_completion_length, epsilon=cfg.epsilon, loss_type=cfg.loss_type,
        scale_rewards=cfg.scale_rewards, **vllm_kwargs(cfg),
    )


@dataclass
class GRPOInputs(TrainingInputs):
    reward: dict[str, Any] = field(default_factory=dict)  # what rewards the completions (summary.json)


def grpo_inputs(setup: TrainingSetup) -> GRPOInputs:
    """The GRPO prompts (with the answers for the rule reward) and the reward functions. With a learned
    reward and prompts that all carry `correct_answer` (the tiny world's do), the rule reward is computed
    beside it at weight 0: TRL logs it as `rewards/rule_answer/mean` and it moves nothing, so the
    reward-hacking check (`sycolab.methods.health`) can compare the learned score with the truth."""
    cfg: GRPOMethodConfig = setup.config
    if cfg.reward == "rule":
        rows = setup.rows("grpo_prompts", ("prompt", "correct_answer"), optional=("template",))
    else:
        rows = setup.rows("grpo_prompts", ("prompt",), optional=("correct_answer", "template"))
    reward_funcs, reward_tokenizers, reward_info = _reward(setup.ctx, cfg)
    args_fields: dict[str, Any] = {}
    if cfg.reward != "rule" and all(row["correct_answer"] is not None for row in rows):
        from sycolab.methods._rewards import rule_reward

        reward_funcs, reward_tokenizers = [reward_funcs, rule_reward], [reward_tokenizers, None]
        args_fields["reward_weights"] = [1.0, 0.0]
        reward_info["monitor"] = "rule_answer at weight 0 (logged as rewards/rule_answer/mean)"
    elif cfg.reward != "rule":
        rows = [{k: v for k, v in row.items() if k == "prompt"} for row in rows]
    return GRPOInputs(rows=rows, reward=reward_info, args_fields=args_fields,
                      trainer_kwargs={"reward_funcs": reward_funcs, "reward_processing_classes": reward_tokenizers})


def reward_summary(setup: TrainingSetup, trainer: Any, inputs: GRPOInputs, diagnostics: Any) -> dict[str, Any]:
    """The reward, the mean and largest share of groups whose rewards were all equal (no advantage), and the
    run's `health` (`sycolab.methods.health`: reward trend, KL, under-trained and reward-hacking flags)."""
    zero_std = [row["frac_reward_zero_std"] for row in diagnostics.rows if "frac_reward_zero_std" in row]
    return {
        "reward": inputs.reward,
        "frac_reward_zero_std_mean": sum(zero_std) / len(zero_std) if zero_std else None,
        "frac_reward_zero_std_max": max(zero_std) if zero_std else None,
        "health": training_health("grpo", diagnostics.rows, reward_kind=inputs.reward.get("kind")).to_dict(),
    }


RECIPE = TrainingRecipe(method="grpo", trainer=grpo_trainer, loss_args=loss_args, inputs=grpo_inputs,
                        summary=reward_summary)


@register_method("grpo", config=GRPOMethodConfig, needs=("reward_model",), traits=TRAITS)
def run(ctx: MethodContext) -> dict[str, Any]:
    """GRPO from the SFT model on the GRPO prompts, rewarded by the reward model (continuous or binary) or the rule."""
    return run_recipe(ctx, RECIPE)


def vllm_kwargs(cfg: GRPOMethodConfig) -> dict[str, Any]:
    """TRL GRPOConfig fields for vLLM generation (empty unless `use_vllm`); vLLM must be installed."""
    if not cfg.use_vllm:
        return {}
    import importlib.util

    from sycolab.errors import UserError

    if importlib.util.find_spec("vllm") is None:
        raise UserError("recover.grpo.use_vllm: vLLM is not installed (pip install -e '.[vllm]' on a GPU machine)")
    kwargs: dict[str, Any] = {"use_vllm": True, "vllm_mode": cfg.vllm_mode}
    if cfg.vllm_mode == "colocate":
        kwargs.update(vllm_gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
                      vllm_tensor_parallel_size=cfg.vllm_tensor_parallel_size)
    else:
        kwargs["vllm_server_base_url"] = cfg.vllm_server_base_url
    return kwargs


def _reward(ctx: MethodContext, cfg: GRPOMethodConfig) -> tuple[Any, Any, dict[str, Any]]:
    """(reward_funcs, reward_processing_classes, description) for GRPOTrainer."""
    from sycolab.methods._rewards import RewardModelScorer, binary_reward, rule_reward_scoring_no_answer

    if cfg.reward == "rule":
        return rule_reward_scoring_no_answer(cfg.no_answer_reward), None, {
            "kind": "rule", "no_answer_reward": cfg.no_answer_reward}
    reward_model, tokenizer, path = _load_reward_model(ctx)
    if cfg.reward == "reward_model":
        return reward_model, tokenizer, {"kind": "reward_model", "reward_model": str(path)}
    threshold = cfg.threshold if cfg.threshold is not None else _saved_median(path)
    scorer = RewardModelScorer(reward_model, tokenizer)
    return binary_reward(scorer, threshold), None, {
        "kind": "binary_threshold", "reward_model": str(path), "threshold": threshold,
        "threshold_source": "config" if cfg.threshold is not None else "reward_model median",
    }


def _load_reward_model(ctx: MethodContext) -> tuple[Any, Any, Path]:
    from transformers import AutoModelForSequenceClassification

    from sycolab.models.load import default_device, resolve_dtype

    if "reward_model" not in ctx.extra_models:
        raise UserError(f"{ctx.name}: grpo with a reward-model reward needs the 'reward_model' stage's model")
    path = Path(ctx.extra_models["reward_model"])
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), dtype=resolve_dtype(ctx.dtype), trust_remote_code=ctx.trust_remote_code
    )
    model.eval()
    if not ctx.use_cpu:
        model.to(default_device())
    return model, load_tokenizer_for(path, ctx), path


def _saved_median(reward_model_dir: Path) -> float:
    from sycolab.methods.reward_model import REWARD_STATS

    stats = read_json(reward_model_dir / REWARD_STATS)
    if stats.get("median_score") is None:
        raise UserError(f"{reward_model_dir / REWARD_STATS}: expected 'median_score', got {sorted(stats)}")
    return float(stats["median_score"])
