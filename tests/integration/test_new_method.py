"""Adding a preference method takes one module and its entry in the study config: a method registered from a
module outside sycolab (written to tmp_path, imported with importlib) trains in a micro study beside dpo, and
every report table that lists dpo lists it too; the framework table shows the traits it registered."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sycolab.config import load_config
from sycolab.methods import registry
from sycolab.reporting import build_document
from sycolab.reporting.document import Table
from sycolab.store import RunStore
from sycolab.study.pipeline import Study

pytestmark = pytest.mark.integration

NEW_METHOD = '''"""`slic_hinge`: the SLiC-HF hinge loss (Zhao et al. 2023, arXiv:2305.10425) with TRL's DPOTrainer.

With h = beta * ((log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))), loss = max(0, 1 - h):
zero once the margin passes 1/beta (saturating), against the frozen SFT reference.
"""

from typing import Any

from pydantic import Field

from sycolab.methods._preference import dpo_trainer, preference_recipe
from sycolab.methods.config import TrainingConfig
from sycolab.methods.lifecycle import run_recipe
from sycolab.methods.registry import MethodContext, MethodTraits, register_method


class SlicHingeConfig(TrainingConfig):
    beta: float = Field(0.1, gt=0, description="Inverse of the margin beyond which the loss is zero.")


RECIPE = preference_recipe("slic_hinge", dpo_trainer, loss_args=lambda cfg: {"loss_type": ["hinge"], "beta": cfg.beta})


@register_method("slic_hinge", config=SlicHingeConfig,
                 traits=MethodTraits(reference="ref", loss="saturating", data="offline"))
def run(ctx: MethodContext) -> dict[str, Any]:
    """SLiC-HF hinge loss from the SFT model with the SFT model as frozen reference."""
    return run_recipe(ctx, RECIPE)
'''

MICRO_STEPS = "{max_steps: 2, per_device_train_batch_size: 4, logging_steps: 1}"


@pytest.fixture
def new_method(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Import the module above from tmp_path; its registration is undone after the test."""
    registry.method_names()  # the built-ins first, so the copy below holds them
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    path = tmp_path / "slic_hinge.py"
    path.write_text(NEW_METHOD)
    spec = importlib.util.spec_from_file_location("slic_hinge_under_test", path)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return "slic_hinge"


def _listed(table: Table, name: str) -> bool:
    return any(cell.text == name for row in table.rows for cell in row)


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_a_method_from_its_own_module_runs_through_a_micro_study_into_every_report_table(
    new_method: str, micro_config_factory, tmp_path: Path
):
    config = micro_config_factory(recover=f"recover:\n  dpo: {MICRO_STEPS}\n  {new_method}: {MICRO_STEPS}\n")
    cfg = load_config(config)
    study = Study(cfg, RunStore(tmp_path / "run"))
    study.run()

    sft, trained = _weights(study.store.model_dir("sft")), _weights(study.store.model_dir(new_method))
    assert any(not sft[k].equal(trained[k]) for k in sft), "the new method did not change the SFT weights"

    report = build_document(study.store.root, cfg.report)
    tables = [b for s in report.sections for b in s.blocks if isinstance(b, Table)]
    with_dpo = [t.key for t in tables if _listed(t, "dpo")]
    assert len(with_dpo) >= 3, f"too few tables list dpo to compare against: {with_dpo}"
    assert [t.key for t in tables if _listed(t, "dpo") and not _listed(t, new_method)] == []

    [framework] = [t for t in tables if t.key == "framework"]
    keys = [c.key for c in framework.columns]
    [row] = [r for r in framework.rows if r[keys.index("model")].text == new_method]
    assert [row[keys.index(k)].text for k in ("reference", "loss", "data")] == ["ref", "saturating", "offline"]
    assert framework.notes == []
