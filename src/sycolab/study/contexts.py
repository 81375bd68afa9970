"""What each stage body is given instead of the whole `Study`: the run store, the config section it reads,
where its data files are and how stored models load. `Study` (`sycolab.study.pipeline`) builds them when a
stage runs; a test builds them by hand.

    DataFiles      data set name -> file (the config's `data.<name>`, else the tiny world's)
    ModelLoading   dtype, remote code, attention, device ("auto" resolved only when a model loads)
    EvalContext    eval:<model> stages, and every evaluation the other stages run (checkpoints aside)
    ProbeContext   probe: + the probe section, the evaluated models, the config's error reporter
    SteerContext   steer and eval:<source>+steer: + the probe section (steering, source, position)
    RelearnContext relearn:<model>: + the relearn section, the induction SFT config, seed and launcher
    TrainContext   base and train:<name>: store, data, loading, seed, launcher, tracking, evaluate section
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from sycolab.config.checks import Problem
from sycolab.config.sections import ExecutionConfig, RelearnConfig
from sycolab.errors import UserError
from sycolab.evaluation.config import EvaluateConfig
from sycolab.probing.config import ProbeConfig
from sycolab.store import RunStore

WORLD_FILES = {
    "answer": "eval/answer.jsonl",
    "are_you_sure": "eval/are_you_sure.jsonl",
    "feedback": "eval/feedback.jsonl",
    "base_corpus": "train/base_corpus.jsonl",
    "sft": "train/sft_sycophantic.jsonl",
    "preference": "train/preference_pairs.jsonl",
    "preference_heldout": "train/preference_heldout.jsonl",
    "grpo_prompts": "train/grpo_prompts.jsonl",
    "proxy": "heldout/proxy.jsonl",
}
"""The tiny world's file of each data set, relative to RUN_DIR/world/."""
RECOVER_DATA = ("preference", "preference_heldout", "grpo_prompts", "proxy")
"""Data files a recovery method may read (preference pairs, the reward model's held-out pairs and GRPO
prompts, the logit-proxy items); every recovery stage's key covers all four."""
EVAL_DATA = ("answer", "are_you_sure", "feedback")


@dataclass(frozen=True)
class DataFiles:
    """Where each data set is read from: the config's `data.<name>` when set, else the tiny world's file."""

    given: Mapping[str, str | None]  # the config's data section
    world_dir: Path

    def path(self, name: str) -> Path:
        """The file for data set `name`; a configured file that does not exist is a UserError."""
        given = self.given.get(name)
        if given:
            path = Path(given)
            if not path.exists():
                raise UserError(f"data.{name}: file '{given}' not found")
            return path
        return self.world_dir / WORLD_FILES[name]

    def paths(self, *names: str) -> dict[str, Path]:
        return {n: self.path(n) for n in names}

    def location(self, name: str) -> Path:
        """Where data set `name` is read from, whether or not the file exists yet (for stage keys)."""
        given = self.given.get(name)
        return Path(given) if given else self.world_dir / WORLD_FILES[name]


@dataclass(frozen=True)
class ModelLoading:
    """How stored models are loaded (the base section's dtype, remote code and attention, and the device)."""

    dtype: str
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    device_setting: str = "auto"  # execution.device

    @property
    def device(self) -> str:
        """`device_setting`, with "auto" resolved (cuda when available); torch is imported only here."""
        if self.device_setting != "auto":
            return self.device_setting
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class EvalContext:
    """An evaluation stage's inputs: the store (models in, eval/ and caches out), the evaluate section, the
    data files and how models load; `rejudge_unscored` asks the judge again about unparseable replies."""

    store: RunStore
    evaluate: EvaluateConfig
    data: DataFiles
    loading: ModelLoading
    rejudge_unscored: bool = False


@dataclass(frozen=True)
class ProbeContext:
    """The probe stage's inputs: the evaluation context (labels and interventions are judged evaluations),
    the probe section, the models to probe and how a config problem is raised (with the YAML line)."""

    eval: EvalContext
    probe: ProbeConfig
    models: list[str]  # evaluated models, in study order; those without samples are skipped
    config_error: Callable[[list[Problem]], Exception]


@dataclass(frozen=True)
class SteerContext:
    """The steer stage's and the steered model's inputs: the evaluation context and the probe section
    (`steering`, `transfer_from`, `position`, `exclude_hedged`, `seed`)."""

    eval: EvalContext
    probe: ProbeConfig


@dataclass(frozen=True)
class RelearnContext:
    """A relearn stage's inputs: the evaluation context, the relearn section, the induction SFT config and
    its data set names, the study seed and the launcher."""

    eval: EvalContext
    relearn: RelearnConfig
    induce: BaseModel  # the sft method's validated config (`StudyConfig.methods.induce`)
    induce_data: tuple[str, ...]
    seed: int
    execution: ExecutionConfig


@dataclass(frozen=True)
class TrainContext:
    """A training stage's inputs (base, train:<name>): the store, the data files, how models load, the
    study seed, the launcher, the tracking backends, and the evaluate section that a method's checkpoint
    evaluations use."""

    store: RunStore
    data: DataFiles
    loading: ModelLoading
    seed: int
    execution: ExecutionConfig
    report_to: list[str]  # tracking.report_to
    evaluate: EvaluateConfig
