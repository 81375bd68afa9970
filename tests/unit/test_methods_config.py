"""Method configs validate with messages that say what was expected and what was got."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sycolab.errors import ConfigError
from sycolab.methods.config import TrainingConfig
from sycolab.methods.grpo import GRPOMethodConfig
from sycolab.methods.reward_model import RewardModelConfig
from sycolab.methods.validation import validate_config, validation_problems


def _problems(cls, raw, where="induce"):
    with pytest.raises(ValidationError) as exc:
        cls.model_validate(raw)
    return validation_problems(exc.value, where, cls)


def test_defaults_are_cpu_friendly_full_fine_tuning():
    cfg = TrainingConfig()
    assert (cfg.bf16, cfg.gradient_checkpointing, cfg.lora, cfg.max_steps) == (False, False, None, -1)
    assert (cfg.checkpoint.eval_every, cfg.checkpoint.select_by) == (None, "judged")


@pytest.mark.parametrize("raw,problem", [
    ({"learning_rate": 0}, "induce.learning_rate: expected a number > 0, got 0"),
    ({"max_steps": -2}, "induce.max_steps: expected a number >= -1, got -2"),
    ({"warmup_ratio": 1.0}, "induce.warmup_ratio: expected a number < 1, got 1.0"),
    ({"lr_scheduler_type": "cosine_restarts"},
     "induce.lr_scheduler_type: expected one of 'linear', 'cosine', 'constant', 'constant_with_warmup' or "
     "'cosine_with_min_lr', got 'cosine_restarts'"),
    ({"bf16": "maybe"}, "induce.bf16: expected true or false, got 'maybe'"),
    ({"adam_beta2": 1.0}, "induce.adam_beta2: expected a number < 1, got 1.0"),
    ({"lora": {"r": 0}}, "induce.lora.r: expected a number > 0, got 0"),
    ({"lora": {"rank": 8}}, "induce.lora.rank: unknown field (known fields: r, alpha, dropout, target_modules, merge)"),
    ({"checkpoint": {"proxy_metric": "accuracy"}},
     "induce.checkpoint.proxy_metric: expected one of 'proxy_sycophancy', 'logit_gap' or 'gap', got 'accuracy'"),
    ({"checkpoint": {"select_by": "judged"}},
     "induce.checkpoint: select_by 'judged' expected eval_every (steps between checkpoint evaluations), got null"),
])
def test_training_config_problems(raw, problem):
    assert _problems(TrainingConfig, raw) == [problem]


def test_grpo_batch_must_hold_whole_groups_and_threshold_needs_the_binary_reward():
    assert _problems(GRPOMethodConfig, {"num_generations": 8, "per_device_train_batch_size": 4}, "recover.grpo") == [
        "recover.grpo: per_device_train_batch_size * gradient_accumulation_steps: expected a multiple of "
        "num_generations (8), got 4 * 1 = 4"
    ]
    assert GRPOMethodConfig(num_generations=8, per_device_train_batch_size=4, gradient_accumulation_steps=2)
    assert _problems(GRPOMethodConfig, {"threshold": 1.9}, "g") == [
        "g: threshold: expected null unless reward is 'binary_threshold', got 1.9"
    ]
    assert _problems(GRPOMethodConfig, {"no_answer_reward": -1.0}, "g") == [
        "g: no_answer_reward: expected 0 unless reward is 'rule', got -1.0"
    ]
    assert _problems(GRPOMethodConfig, {"reward": "rule", "no_answer_reward": -2}, "g") == [
        "g.no_answer_reward: expected a number >= -1, got -2"
    ]
    assert GRPOMethodConfig(reward="rule", no_answer_reward=-1.0).no_answer_reward == -1.0


def test_reward_model_refuses_proxy_checkpoints_and_unmerged_adapters():
    assert _problems(RewardModelConfig, {"checkpoint": {"eval_every": 5}}, "r")[0].startswith(
        "r: checkpoint.eval_every: expected null"
    )
    assert _problems(RewardModelConfig, {"lora": {"merge": False}}, "r") == [
        "r: lora.merge: expected true (grpo loads the reward model as a plain scorer), got false"
    ]


def test_validate_config_raises_config_error_with_every_problem():
    with pytest.raises(ConfigError) as exc:
        validate_config(TrainingConfig, {"learning_rate": -1, "seed": -3, "extra": 1}, "induce")
    assert exc.value.problems == [
        "induce.learning_rate: expected a number > 0, got -1",
        "induce.seed: expected a number >= 0, got -3",
        "induce.extra: unknown field (known fields: " + ", ".join(TrainingConfig.model_fields) + ")",
    ]


def test_sft_arguments_carry_adam_beta2_and_length_grouping(tmp_path):
    from sycolab.methods.lifecycle import trainer_arguments
    from sycolab.methods.registry import MethodContext
    from sycolab.methods.sft import RECIPE, SFTMethodConfig

    def arguments(cfg: SFTMethodConfig):
        ctx = MethodContext(name="base", config=cfg, input_model=tmp_path, output_dir=tmp_path / "out",
                            work_dir=tmp_path / "work", data={}, use_cpu=True)
        return trainer_arguments(ctx, RECIPE)

    grouped = arguments(SFTMethodConfig(adam_beta2=0.95, group_by_length=True))
    assert (grouped.adam_beta2, grouped.train_sampling_strategy) == (0.95, "group_by_length")
    plain = arguments(SFTMethodConfig())
    assert (plain.adam_beta2, plain.train_sampling_strategy) == (0.999, "random")


def test_trl_arguments_take_the_same_name_fields_as_configured(tmp_path):
    from sycolab.methods.config import TRL_SAME_NAME_FIELDS
    from sycolab.methods.lifecycle import trainer_arguments
    from sycolab.methods.registry import MethodContext
    from sycolab.methods.sft import RECIPE, SFTMethodConfig

    cfg = SFTMethodConfig(learning_rate=3e-4, num_train_epochs=2, max_steps=7, per_device_train_batch_size=4,
                          gradient_accumulation_steps=3, logging_steps=2, weight_decay=0.01, adam_beta2=0.95,
                          lr_scheduler_type="cosine", max_grad_norm=0.5, warmup_ratio=0.1, seed=11)
    ctx = MethodContext(name="base", config=cfg, input_model=tmp_path, output_dir=tmp_path / "out",
                        work_dir=tmp_path / "work", data={}, use_cpu=True)
    args = trainer_arguments(ctx, RECIPE)
    assert {f: getattr(args, f) for f in TRL_SAME_NAME_FIELDS} == {
        "learning_rate": 3e-4, "num_train_epochs": 2.0, "max_steps": 7, "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 3, "logging_steps": 2, "weight_decay": 0.01, "adam_beta2": 0.95,
        "lr_scheduler_type": "cosine", "max_grad_norm": 0.5}
    assert type(args.num_train_epochs) is float and type(args.learning_rate) is float
    assert (args.warmup_steps, args.seed, args.data_seed, args.logging_first_step) == (0.1, 11, 11, True)
