"""The method sections of a study config (`base.train`, `induce`, each `recover` entry), validated once, when
the config is loaded, into each method's own config class; a swept recover entry becomes one validated config
per cell. `StudyConfig.methods` keeps the result and the stages pass those configs on; the raw mappings stay
on the config as the user wrote them (the manifest and the stage keys hash them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

from sycolab.config.names import name_problem
from sycolab.errors import ConfigError

if TYPE_CHECKING:
    from sycolab.methods.config import CheckpointPolicy
    from sycolab.methods.sft import SFTMethodConfig


@dataclass(frozen=True)
class MethodCell:
    """One model to train: `name` in the store (e.g. `ipo[beta=0.5]`), `method` registered name, its config."""

    name: str
    method: str
    config: BaseModel
    entry: str  # the recover entry it came from


@dataclass(frozen=True)
class MethodSections:
    """The validated method sections: the base model's and the induction's `sft` configs, and every model the
    recover stage trains, sweep cells expanded, in config order."""

    base_train: SFTMethodConfig
    induce: SFTMethodConfig
    recover: tuple[MethodCell, ...]

    def produced_models(self) -> list[str]:
        """The causal LMs a study makes, in order: base, sft, then each recover cell that is a causal LM
        (a reward model is not): the models evaluated and probed."""
        from sycolab.methods.registry import get_method

        return ["base", "sft", *(c.name for c in self.recover if get_method(c.method).produces_causal_lm)]

    def checkpoint_policies(self) -> dict[tuple[str, ...], CheckpointPolicy]:
        """The checkpoint policy of each training section that has one, by key path: ("induce",) and
        ("recover", <entry>) (a swept entry's cells share its policy unless the sweep varies it; the first
        cell speaks for the entry)."""
        out: dict[tuple[str, ...], CheckpointPolicy] = {("induce",): self.induce.checkpoint}
        for cell in self.recover:
            policy = getattr(cell.config, "checkpoint", None)
            if policy is not None:
                out.setdefault(("recover", cell.entry), policy)
        return out


def method_sections(raw: dict[str, Any]) -> tuple[MethodSections | None, list[str]]:
    """Validate the method sections of a raw config against their method configs: the sections, or None and
    every problem as 'key.path: message'. base.train and induce make one model each (no sweep); recover
    entries and their sweep cells are names (folders of the run store). Sections that are not mappings are
    left to the schema's own error."""
    problems: list[str] = []
    base_raw, recover_raw = raw.get("base"), raw.get("recover")
    base: dict[str, Any] = base_raw if isinstance(base_raw, dict) else {}
    recover: dict[str, Any] = recover_raw if isinstance(recover_raw, dict) else {}
    single: dict[str, BaseModel] = {}
    cells: list[MethodCell] = []
    for prefix, method, body in _sections(base.get("train") or {}, raw.get("induce") or {}, recover):
        entry = prefix.split(".", 1)[1] if prefix.startswith("recover.") else None
        if entry is not None and name_problem(entry):
            problems.append(f"recover.{entry}: entry {name_problem(entry)}")
            continue
        if not isinstance(body, dict):
            continue
        expanded, errors = _expand(method, body, prefix)
        problems.extend(errors)
        if entry is None:
            if len(expanded) > 1:
                problems.append(f"{prefix}: a sweep is not allowed here ({len(expanded)} cells); give one value per key")
            elif expanded:
                single[prefix] = expanded[0][1]
            continue
        for name, config in expanded:
            cell = _entry_cell(entry, method, name)
            cell_problem = name_problem(cell)
            if cell_problem:
                problems.append(f"{prefix}: sweep cell {cell_problem}")
            cells.append(MethodCell(name=cell, method=method, config=config, entry=entry))
    if problems or len(single) != 2:  # a section that is not a mapping: the schema reports it
        return None, problems
    sft = cast("tuple[SFTMethodConfig, SFTMethodConfig]", (single["base.train"], single["induce"]))
    return MethodSections(base_train=sft[0], induce=sft[1], recover=tuple(cells)), []


def _sections(train: Any, induce: Any, recover: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(key path, method, raw body) of every method section; a recover entry's method is its `method` key,
    else its name."""
    sections: list[tuple[str, str, Any]] = [("base.train", "sft", train), ("induce", "sft", induce)]
    for entry, body in recover.items():
        if isinstance(body, dict):
            body = dict(body)
            method = str(body.pop("method", entry))
        else:
            method = entry
        sections.append((f"recover.{entry}", method, body))
    return sections


def _expand(method: str, raw: dict[str, Any], prefix: str) -> tuple[list[tuple[str, BaseModel]], list[str]]:
    from sycolab.methods.sweep import expand_grid

    try:
        return expand_grid(method, raw, prefix), []
    except ConfigError as e:
        return [], e.problems


def _entry_cell(entry: str, method: str, cell: str) -> str:
    """The model name of sweep cell `cell` of a recover entry: a renamed entry keeps its own name
    (entry `ipo_big`, method `ipo`, cell `ipo[beta=1.0]` -> `ipo_big[beta=1.0]`)."""
    return cell if entry == method else entry + cell[len(method):]
