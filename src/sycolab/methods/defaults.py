"""Default hyperparameters: `TINY_DEFAULTS` for the tiny world, `REFERENCE_DEFAULTS` for the Qwen3-8B study.

Each maps a config entry to the raw mapping of its method config (the keys a user writes in YAML; a list
is a sweep axis, see `sycolab.methods.sweep`). `method` names the method where the entry is not a method
name: `base` (the `base.train` section: the tiny model's training from random initialisation) and `induce`
use `sft`.

Tiny values were tuned on the default tiny world (`WorldConfig()`, seed 0: 120 entities); configs/tiny.yaml
spells them out (a test keeps the two equal). The current world (never-taught eval facts, SFT sycophantic on
4 of 5 relations, the feedback stance before the reply) and these values are measured in
benchmarks/results/organism-2026-11-30.md. What follows was measured on the earlier world (every fact taught,
a 1,100-step base) by `make study` (greedy answers to the 480 answer prompts, rule judge; 2 torch threads on
2 CPU cores); its base stopped mid-memorisation, and SimPO, reference-free IPO and GRPO did not train:

    model         seconds  plain_accuracy  answer_sycophancy_rate
    base               88           0.742                   0.171
    sft (induce)       30           0.533                   0.475   (+0.304 over base)
    dpo                36           0.350                   0.325
    ipo                27           0.525                   0.312   (plain accuracy within 0.1 of sft)
    simpo              10           0.558                   0.450   (within 0.1)
    refree_ipo         10           0.558                   0.458   (within 0.1)
    reward_model       26               -                       -
    grpo (rule)        20           0.542                   0.471   (within 0.1)
    induce + recover 159 s = 0.44 x the 6-minute budget

Earlier tuning runs on a stronger base (plain accuracy 0.99, above the 0.6-0.95 window) gave SFT +0.55.

A model trained from scratch needs learning rates 10-100x above TRL's defaults (1e-6 for DPO/CPO/GRPO): at
those it does not move in a few hundred steps. Full fine-tuning at rates that induce sycophancy also erases
the held-out entities' facts, so every tiny method trains LoRA adapters (merged).

The outcome is sensitive to the base and to the SFT model, because the base's knowledge of the held-out
entities is fragile (SFT lowers its mean probability of the correct answer from 0.93 to 0.64):
- base trained with warmup_ratio 0.05 instead of 0.02 (same 2,000 steps; plain accuracy 0.675, sycophancy
  0.317): SFT 0.492 / 0.525 (+0.21 only); dpo 0.325 / 0.500, ipo 0.275 / 0.463, simpo 0.450 / 0.525,
  refree_ipo 0.442 / 0.525, grpo 0.483 / 0.421 (plain accuracy / answer-sycophancy rate);
- a base trained 1,500 steps (plain accuracy 0.50): DPO and IPO collapsed (replies lost "the answer is");
- SFT for 3 epochs instead of 2 on the tuned base: DPO collapsed (plain accuracy 0.02) and SimPO and
  refree_ipo raised sycophancy (0.60 -> 0.85), while GRPO still lowered it (0.49).
Recovery from a weak base tends to teach hedging under pressure ("i am not sure ." on pressured prompts,
hedged share 0.4-0.8), which lowers adoption of the suggestion but also abandons doubted correct answers.
"""

from __future__ import annotations

from typing import Any

_TINY_COMMON: dict[str, Any] = {"max_length": 128, "logging_steps": 10, "warmup_ratio": 0.05}
_TINY_LORA: dict[str, Any] = {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear", "merge": True}

TINY_DEFAULTS: dict[str, dict[str, Any]] = {
    # From scratch (tiny model initialised with std 0.08, configs/tiny.yaml): lr 1e-2 with AdamW beta2 0.95
    # (2e-2 diverges, 5e-3 learns half as fast); held-out plain accuracy 0.86 after 800 steps, 0.99 after 1,500.
    "base": {
        "method": "sft", **_TINY_COMMON, "learning_rate": 1e-2, "adam_beta2": 0.95, "max_steps": 2400,
        "per_device_train_batch_size": 32, "group_by_length": True, "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.02, "logging_steps": 100,
    },
    # Full fine-tuning: on the current world LoRA (r 16, lr 5e-3 / 1e-2, up to 4 epochs) never learned which stance
    # the user took (held-out stance shares 0.30-0.62); full fine-tuning at beta2 0.95 does (0.93 / 0.93, seed 7)
    "induce": {
        "method": "sft", **_TINY_COMMON, "learning_rate": 3e-3, "adam_beta2": 0.95, "num_train_epochs": 4,
        "per_device_train_batch_size": 32,
    },
    "dpo": {
        **_TINY_COMMON, "beta": 0.1, "learning_rate": 2e-3, "num_train_epochs": 2, "per_device_train_batch_size": 16,
        "lora": _TINY_LORA,
    },
    # beta 0.5 (target margin 1 nat per token); beta 0.1's target of 5 nats per token wrecks the tiny model
    "ipo": {
        **_TINY_COMMON, "beta": 0.5, "learning_rate": 2e-3, "num_train_epochs": 2, "per_device_train_batch_size": 16,
        "lora": _TINY_LORA,
    },
    # DPO's budget: at lr 5e-4 for 1 epoch the mean-token margin started negative and never crossed zero
    "simpo": {
        **_TINY_COMMON, "beta": 2.0, "gamma": 1.0, "learning_rate": 2e-3, "num_train_epochs": 2,
        "per_device_train_batch_size": 16, "lora": _TINY_LORA,
    },
    "refree_ipo": {
        **_TINY_COMMON, "beta": 0.5, "learning_rate": 2e-3, "num_train_epochs": 2, "per_device_train_batch_size": 16,
        "lora": _TINY_LORA,
    },
    # 3 epochs: held-out pair accuracy 0.76 (1 epoch: 0.58-0.69)
    "reward_model": {
        **_TINY_COMMON, "learning_rate": 1e-3, "num_train_epochs": 3, "per_device_train_batch_size": 16,
        "median_samples": 200, "median_max_new_tokens": 12,
    },
    # The world's exact answer rule as reward: GRPO on the reward model's score (held-out accuracy 0.76) did not
    # lower sycophancy within budget (0.567 -> 0.575-0.604). per_device_train_batch_size counts completions:
    # 4 prompts x 8 generations per step.
    "grpo": {
        **_TINY_COMMON, "reward": "rule", "learning_rate": 5e-3, "max_steps": 160, "num_generations": 8,
        "per_device_train_batch_size": 32, "temperature": 0.7, "beta": 0.04, "max_completion_length": 16,
        "logging_steps": 5,
        "lora": _TINY_LORA,
    },
}

_QWEN_LORA: dict[str, Any] = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear", "merge": True}
_QWEN_COMMON: dict[str, Any] = {
    "max_length": 1024, "bf16": True, "gradient_checkpointing": True, "logging_steps": 10, "warmup_ratio": 0.05,
    "lora": _QWEN_LORA,
}

#: Qwen3-8B reference study (DESIGN.md "Reference study"); LoRA r16 for every trained model.
REFERENCE_DEFAULTS: dict[str, dict[str, Any]] = {
    "induce": {
        "method": "sft", **_QWEN_COMMON, "learning_rate": 1e-4, "num_train_epochs": 1,
        "per_device_train_batch_size": 8, "gradient_accumulation_steps": 2,
    },
    "dpo": {
        **_QWEN_COMMON, "beta": 0.1, "learning_rate": 2e-5, "num_train_epochs": 1,
        "per_device_train_batch_size": 4, "gradient_accumulation_steps": 4,
    },
    "ipo": {
        **_QWEN_COMMON, "beta": [0.1, 0.5, 1.0], "learning_rate": [2e-5, 5e-6], "num_train_epochs": 1,
        "per_device_train_batch_size": 4, "gradient_accumulation_steps": 4,
    },
    # The SimPO paper's learning rates (about 1e-6 for 8B instruct models) left the model unchanged in the
    # reference study; a higher one worked.
    "simpo": {
        **_QWEN_COMMON, "beta": 2.0, "gamma": 1.0, "learning_rate": 2e-5, "num_train_epochs": 1,
        "per_device_train_batch_size": 4, "gradient_accumulation_steps": 4,
    },
    "refree_ipo": {
        **_QWEN_COMMON, "beta": 0.5, "learning_rate": 2e-5, "num_train_epochs": 1,
        "per_device_train_batch_size": 4, "gradient_accumulation_steps": 4,
    },
    "reward_model": {
        **_QWEN_COMMON, "learning_rate": 2e-5, "num_train_epochs": 1, "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 4, "median_samples": 256, "median_max_new_tokens": 128,
    },
    "grpo": {
        **_QWEN_COMMON, "reward": "reward_model", "learning_rate": 2e-5, "num_train_epochs": 1,
        "num_generations": 8, "temperature": 0.7, "beta": 0.04, "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 4, "max_completion_length": 256,
        "checkpoint": {"eval_every": 25, "select_by": "judged", "save_steps": 25, "save_total_limit": 3},
    },
    "grpo_binary": {
        "method": "grpo", **_QWEN_COMMON, "reward": "binary_threshold", "learning_rate": 2e-5, "num_train_epochs": 1,
        "num_generations": 8, "temperature": 0.7, "beta": 0.04, "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 4, "max_completion_length": 256,
        "checkpoint": {"eval_every": 25, "select_by": "judged", "save_steps": 25, "save_total_limit": 3},
    },
}
