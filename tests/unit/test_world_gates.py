"""The base gate (sycolab.world.gates): its items, its decision on hand-made verdicts, and an untrained
base failing it, through the base stage's check (`sycolab.study.training.check_base_gate`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sycolab.data.prompts import HEDGE_REPLY
from sycolab.generation.base import SamplingParams
from sycolab.generation.hf import HFBackend
from sycolab.judging.requests import Verdict
from sycolab.world import World, WorldConfig
from sycolab.world.gates import GateError, decide, failure_message, gate_items, measure

CFG = WorldConfig()


def _verdicts(n_yes: int, n_no: int, yes: str, no: str) -> list[Verdict]:
    return [Verdict(yes, "") for _ in range(n_yes)] + [Verdict(no, "") for _ in range(n_no)]


def test_gate_items_ask_every_eval_fact_once_with_a_heldout_phrasing(world: World) -> None:
    items = gate_items(world)
    assert len(items) == 48 * 5 and len({i.fact for i in items}) == 240
    assert sum(not i.known_by_design for i in items) == 10 * 5
    for item in items:
        assert item.known_by_design is world.is_taught(item.fact.entity)
        phrasings = world.relation(item.fact.relation).heldout_phrasings
        assert item.question in {p.format(entity=item.fact.entity) for p in phrasings}
    assert len({(i.fact.relation, i.question.replace(i.fact.entity, "{entity}")) for i in items}) == 5 * 2


def test_gate_passes_at_the_thresholds() -> None:
    gate = decide(_verdicts(95, 5, "CORRECT", "INCORRECT"), _verdicts(45, 5, "HEDGED", "COMMITTED"), CFG)
    assert (gate.taught_accuracy, gate.never_taught_hedge, gate.n_taught, gate.n_never_taught) == (0.95, 0.9, 100, 50)
    assert gate.passed and failure_message(gate) is None
    assert gate.to_json() == {"taught_accuracy": 0.95, "n_taught": 100, "never_taught_hedge": 0.9,
                              "n_never_taught": 50, "thresholds": {"taught_accuracy": 0.95, "never_taught_hedge": 0.9},
                              "passed": True}


def test_gate_fails_below_taught_accuracy_naming_what_to_change() -> None:
    gate = decide(_verdicts(94, 6, "CORRECT", "INCORRECT"), _verdicts(50, 0, "HEDGED", "COMMITTED"), CFG)
    message = failure_message(gate)
    assert not gate.passed and message is not None
    assert "taught accuracy 0.94 < 0.95 required" in message and "base.train.max_steps" in message
    assert "hedge" not in message.split(". Train")[0]  # the hedge rate (1.0) is not a problem


def test_gate_fails_below_the_hedge_rate_and_counts_unscored_verdicts_as_misses() -> None:
    never = _verdicts(44, 5, "HEDGED", "COMMITTED") + [Verdict(None, "unparseable")]
    gate = decide(_verdicts(100, 0, "CORRECT", "INCORRECT"), never, CFG)
    assert gate.never_taught_hedge == 0.88 and not gate.passed
    assert "never-taught hedge rate 0.88 < 0.9 required" in str(failure_message(gate))
    assert "taught accuracy" not in str(failure_message(gate)).replace("never-taught", "")


def test_without_never_taught_facts_only_accuracy_is_checked() -> None:
    gate = decide(_verdicts(19, 1, "CORRECT", "INCORRECT"), [], WorldConfig(never_taught_fraction=0))
    assert gate.never_taught_hedge is None and gate.passed


class _Oracle:
    """A backend that replies as a base that learned the world exactly (or, `guess`, that answers every fact)."""

    model_id = "oracle"

    def __init__(self, world: World, guess: bool = False):
        self.world, self.guess = world, guess
        self.asked = {i.question: i for i in gate_items(world)}

    def generate(self, prompts: list[list[dict[str, Any]]], params: SamplingParams) -> list[list[str]]:
        assert params.greedy and all(len(p) == 1 and p[0]["role"] == "user" for p in prompts)
        items = [self.asked[p[0]["content"]] for p in prompts]
        return [[f"the answer is {i.fact.value} ." if i.known_by_design or self.guess else HEDGE_REPLY] for i in items]


def test_measure_judges_replies_with_the_rule_judge(world: World) -> None:
    gate = measure(_Oracle(world), world, CFG)
    assert (gate.taught_accuracy, gate.never_taught_hedge, gate.passed) == (1.0, 1.0, True)
    guessing = measure(_Oracle(world, guess=True), world, CFG)
    assert (guessing.taught_accuracy, guessing.never_taught_hedge, guessing.passed) == (1.0, 0.0, False)


def test_an_untrained_model_fails_the_gate(world: World, model: Any, tok: Any) -> None:
    start = time.perf_counter()
    gate = measure(HFBackend(model, tok, "untrained", batch_size=128, progress=False), world, CFG)
    assert time.perf_counter() - start < 5
    assert gate.taught_accuracy == 0.0 and not gate.passed
    assert "taught accuracy 0.0 < 0.95 required" in str(failure_message(gate))


def test_the_base_stage_check_writes_gate_json_and_stops_with_a_user_error(tmp_path: Path) -> None:
    from _micro_study import micro_study, save_untrained_base

    from sycolab.study.training import check_base_gate

    study = micro_study(tmp_path)
    save_untrained_base(study)
    with pytest.raises(GateError) as failed:
        check_base_gate(study.train_context())
    assert failed.value.exit_code == 2
    message = str(failed.value)
    assert "taught accuracy 0.0 < 0.95 required" in message and "base.train.max_steps" in message
    assert message.endswith("measured in training/base/gate.json")
    record = json.loads((study.store.training_dir("base") / "gate.json").read_text())
    # micro world: 24 entities, round(9.6) = 10 eval x 5 relations; round(10 * 0.2) = 2 never taught
    assert (record["n_taught"], record["n_never_taught"], record["passed"]) == (40, 10, False)

    off = micro_study(tmp_path / "off", world={**study.cfg.world.model_dump(), "base_gate": False})
    save_untrained_base(off)
    assert check_base_gate(off.train_context()) == {}
    assert not (off.store.training_dir("base") / "gate.json").exists()
