"""The study config: one YAML file describes a whole study (world or data, base, induce, recover,
evaluate, probe, report, execution). Unknown keys are rejected everywhere."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sycolab.config.sections import BaseModelConfig, DataConfig, ExecutionConfig, ReportConfig, TrackingConfig
from sycolab.data.build.config import DataBuildConfig
from sycolab.evaluation.config import EvaluateConfig
from sycolab.probing.config import ProbeConfig
from sycolab.world.config import WorldConfig


class StudyConfig(BaseModel):
    """A whole study. `induce` is an `sft` method config; `recover` maps a model name to a method config
    (the method is the entry's `method` key, or its name); a list where a field takes one value is a
    sweep axis (`beta: [0.1, 0.5]` gives one model per value)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "study"
    seed: int = 0
    world: WorldConfig = Field(default_factory=WorldConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    data_build: DataBuildConfig = Field(default_factory=DataBuildConfig)
    base: BaseModelConfig = Field(default_factory=BaseModelConfig)
    induce: dict[str, Any] = Field(default_factory=dict)
    recover: dict[str, dict[str, Any]] = Field(default_factory=dict)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @property
    def uses_tiny_world(self) -> bool:
        return self.base.model == "tiny"
