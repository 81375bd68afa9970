"""Shared fixtures of the integration tests: a micro study config (a few entities, a 2-layer model)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MICRO_WORLD = """
world:
  seed: 0
  n_entities: 24
  n_unknown_entities: 2
  n_eval_questions: 8
  n_are_you_sure: 8
  n_feedback_eval: 3
  n_feedback_train: 4
  n_feedback_sft: 3
  n_grpo_prompts: 8
  base_gate: false            # a 10-step base knows nothing: no knowledge gate
  stance_gate: false          # and a few-step SFT learns no stance
  base_in_context: 20         # the default 600 reading rows would swamp a 24-entity corpus
"""

MICRO_MODEL = """
base:
  model: tiny
  tiny: {hidden_size: 32, num_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, intermediate_size: 64}
  train: {learning_rate: 3.0e-3, max_steps: BASE_STEPS, per_device_train_batch_size: 16, logging_steps: 5}
induce: {learning_rate: 1.0e-3, max_steps: 3, per_device_train_batch_size: 8, logging_steps: 1}
"""


def micro_config(tmp_path: Path, recover: str = "recover:\n  dpo: {max_steps: 2, per_device_train_batch_size: 4, logging_steps: 1}\n",
                 base_steps: int = 10, extra: str = "") -> Path:
    path = tmp_path / "micro.yaml"
    path.write_text("name: micro\nseed: 0\n" + MICRO_WORLD + MICRO_MODEL.replace("BASE_STEPS", str(base_steps))
                    + recover + "evaluate:\n  generation: {batch_size: 32, max_new_tokens: 8}\n  bootstrap_resamples: 50\n"
                    + "probe:\n  n_permutations: 19\n  min_per_class: 2\n  cv_folds: 2\n  kinds: [logistic]\n" + extra)
    return path


@pytest.fixture
def micro_config_factory(tmp_path):
    return lambda **kw: micro_config(tmp_path, **kw)


def run_study_cli(cfg: Path, run_dir: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """`sycolab run CFG --run-dir RUN_DIR` in a fresh process with one torch thread, as a user types it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sycolab.cli.main", "run", str(cfg), "--run-dir", str(run_dir)],
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def study_cli():
    return run_study_cli
