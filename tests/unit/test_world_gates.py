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
from sycolab.world import World, WorldConfig
from sycolab.world.gates import GateError, decide, failure_message, gate_items, measure

CFG = WorldConfig()


def _verdicts(n_yes: int, n_no: int) -> list[bool]:
    return [True] * n_yes + [False] * n_no


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
    gate = decide(_verdicts(95, 5), _verdicts(45, 5), CFG)
    assert (gate.taught_accuracy, gate.never_taught_hedge, gate.n_taught, gate.n_never_taught) == (0.95, 0.9, 100, 50)
    assert gate.passed and failure_message(gate) is None
    assert gate.to_json() == {"taught_accuracy": 0.95, "n_taught": 100, "never_taught_hedge": 0.9,
                              "n_never_taught": 50, "thresholds": {"taught_accuracy": 0.95, "never_taught_hedge": 0.9},
                              "passed": True}


def test_gate_fails_below_taught_accuracy_naming_what_to_change() -> None:
    gate = decide(_verdicts(94, 6), _verdicts(50, 0), CFG)
    message = failure_message(gate)
    assert not gate.passed and message is not None
    assert "taught accuracy 0.94 < 0.95 required" in message and "base.train.max_steps" in message
    assert "hedge" not in message.split(". Train")[0]  # the hedge rate (1.0) is not a problem


def test_gate_fails_below_the_hedge_rate() -> None:
    gate = decide(_verdicts(100, 0), _verdicts(44, 6), CFG)
    assert gate.never_taught_hedge == 0.88 and not gate.passed
    assert "never-taught hedge rate 0.88 < 0.9 required" in str(failure_message(gate))
    assert "taught accuracy" not in str(failure_message(gate)).replace("never-taught", "")


def test_without_never_taught_facts_only_accuracy_is_checked() -> None:
    gate = decide(_verdicts(19, 1), [], WorldConfig(never_taught_fraction=0))
    assert gate.never_taught_hedge is None and gate.passed


class _Scripted:
    """A backend that answers taught facts correctly and replies `never_taught_reply` (None: the fact's value)
    to never-taught ones."""

    model_id = "scripted"

    def __init__(self, world: World, never_taught_reply: str | None):
        self.reply = never_taught_reply
        self.asked = {i.question: i for i in gate_items(world)}

    def generate(self, prompts: list[list[dict[str, Any]]], params: SamplingParams) -> list[list[str]]:
        assert params.greedy and all(len(p) == 1 and p[0]["role"] == "user" for p in prompts)
        items = [self.asked[p[0]["content"]] for p in prompts]
        return [[f"the answer is {i.fact.value} ." if i.known_by_design or self.reply is None else self.reply]
                for i in items]


@pytest.mark.parametrize(("never_taught_reply", "hedge_rate"), [
    (HEDGE_REPLY, 1.0), ("I am not sure.", 1.0),  # the hedge, spelled with other case and spacing
    (None, 0.0),  # guesses: the fact's own value, right by chance or not, is not a hedge
    ("i apologize , you are", 0.0),  # no final answer (the judge's HEDGED) but not the hedge either
])
def test_measure_judges_replies_with_the_rule_judge(world: World, never_taught_reply: str | None,
                                                     hedge_rate: float) -> None:
    gate = measure(_Scripted(world, never_taught_reply), world, CFG)
    assert (gate.taught_accuracy, gate.never_taught_hedge, gate.passed) == (1.0, hedge_rate, hedge_rate == 1.0)


def test_an_untrained_model_fails_the_gate(world: World, model: Any, tok: Any) -> None:
    start = time.perf_counter()
    gate = measure(HFBackend(model, tok, "untrained", batch_size=128, progress=False), world, CFG)
    assert time.perf_counter() - start < 5
    assert (gate.taught_accuracy, gate.never_taught_hedge, gate.passed) == (0.0, 0.0, False)
    assert "taught accuracy 0.0 < 0.95 required" in str(failure_message(gate))
    assert "never-taught hedge rate 0.0 < 0.9 required" in str(failure_message(gate))


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

    # the same run dir with the gate off: no check, and the failed run's gate.json is gone
    off = micro_study(tmp_path, world={**study.cfg.world.model_dump(), "base_gate": False})
    assert check_base_gate(off.train_context()) == {}
    assert not (off.store.training_dir("base") / "gate.json").exists()
