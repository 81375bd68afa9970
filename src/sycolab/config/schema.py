"""The study config: one YAML file describes a whole study (world or data, base, induce, recover,
evaluate, probe, report, execution). Unknown keys are rejected everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from sycolab.config.names import name_problem
from sycolab.config.sections import (
    BaseModelConfig,
    DataConfig,
    ExecutionConfig,
    RelearnConfig,
    ReportConfig,
    TrackingConfig,
)
from sycolab.data.build.config import DataBuildConfig
from sycolab.evaluation.config import EvaluateConfig
from sycolab.probing.config import ProbeConfig
from sycolab.world.config import WorldConfig

if TYPE_CHECKING:
    from sycolab.config.methods import MethodSections


class StudyConfig(BaseModel):
    """A whole study. `induce` is an `sft` method config; `recover` maps a model name to a method config
    (the method is the entry's `method` key, or its name); a list where a field takes one value is a
    sweep axis (`beta: [0.1, 0.5]` gives one model per value). Those sections stay here as written (the
    manifest and stage keys hash them); `methods` holds them validated into their method config classes."""

    model_config = ConfigDict(extra="forbid")

    name: str = "study"
    seed: int = Field(0, ge=0, lt=2**32, description="Study seed (numpy and torch take 0 <= seed < 2**32).")
    seeds: list[int] = Field(
        default_factory=list,
        description="One complete study per seed (seed and world.seed both set to it), in RUN_DIR/seed-<N>/, "
        "aggregated over seeds; empty: a single study with `seed` and `world.seed` as given.",
    )
    world: WorldConfig = Field(default_factory=WorldConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    data_build: DataBuildConfig = Field(default_factory=DataBuildConfig)
    base: BaseModelConfig = Field(default_factory=BaseModelConfig)
    induce: dict[str, Any] = Field(default_factory=dict)
    recover: dict[str, dict[str, Any]] = Field(default_factory=dict)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    relearn: RelearnConfig = Field(default_factory=RelearnConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    _origin: Any = PrivateAttr(default=None)  # sycolab.config.load.ConfigOrigin: file and YAML lines
    _methods: Any = PrivateAttr(default=None)  # MethodSections, set by sycolab.config.load.validate_config

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("seeds")
    @classmethod
    def _distinct_non_negative(cls, seeds: list[int]) -> list[int]:
        if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError(f"expected distinct seeds >= 0, got {seeds}")
        return seeds

    @property
    def methods(self) -> MethodSections:
        """base.train, induce and every recover cell, validated once into their method configs at load."""
        if self._methods is None:
            raise RuntimeError("StudyConfig.methods is set when the config is loaded: use "
                               "sycolab.config.load_config or validate_config, not StudyConfig.model_validate")
        methods: MethodSections = self._methods
        return methods

    @property
    def uses_tiny_world(self) -> bool:
        return self.base.model == "tiny"
