"""`sycolab train METHOD`: train one part of a study alone, into its run dir, through the same stages.

METHOD names what to train: `base`, `induce` (or `sft`), a recover entry (`dpo`, `ipo_big`), or a method
that recover entries use (`ipo` trains every entry whose method is ipo); a sweep entry trains all its
cells, or only `cell` (a model name such as `ipo[beta=0.5,lr=5e-06]`). Each selected stage goes through
`run_stage`, so a cell already trained with the same inputs is skipped, and the manifest records it as
`sycolab run` would. Upstream stages (world, base, sft, a reward model for grpo) must already be done in
the run dir; the error says which are missing and the command that makes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sycolab.config import dump_config, recover_cells
from sycolab.errors import UserError
from sycolab.io import atomic_write_text
from sycolab.study.stages import Stage, StageOutcome, run_stage

if TYPE_CHECKING:
    from sycolab.study.pipeline import Study

_ALIASES = {"base": "base", "induce": "train:sft", "sft": "train:sft"}


def select_training_stages(study: Study, method: str, cell: str | None = None) -> list[Stage]:
    """The training stages `method` (and optionally `cell`) names, in execution order."""
    stages = [s for _, s in study.stages()]
    if method in _ALIASES:
        wanted = {_ALIASES[method]}
    else:
        cells = [c for c in recover_cells(study.cfg) if method in (c.entry, c.method)]
        if not cells:
            known = sorted({"base", "induce", *study.cfg.recover})
            raise UserError(f"train: '{method}' is not a stage of this study (choose from {', '.join(known)})")
        if cell is not None:
            cells = [c for c in cells if c.name == cell]
            if not cells:
                raise UserError(f"train --cell: '{method}' has no cell named '{cell}'")
        wanted = {f"train:{c.name}" for c in cells}
    return [s for s in stages if s.name in wanted]


def train_one(study: Study, method: str, cell: str | None = None, force: bool = False) -> Iterator[StageOutcome]:
    """Train the stages `method` names into the study's run dir; yield each stage's outcome as it ends
    (status "skipped" for a stage already done with the same inputs)."""
    targets = select_training_stages(study, method, cell)
    target_names = {s.name for s in targets}
    store = study.store
    keys: dict[str, str] = {}
    for _, stage in study.stages():
        if stage.name in target_names:
            break
        prior = store.stage(stage.name)
        if prior and prior.get("status") == "done" and prior.get("key"):
            keys[stage.name] = prior["key"]
    missing = _missing_upstream(study, targets, keys)
    if missing:
        raise UserError(
            f"train {method}: upstream stage(s) {', '.join(missing)} not done in {store.root}; make them first with "
            f"`sycolab run CONFIG --run-dir {store.root} --stages {_groups_for(study, missing)}`"
        )
    store.init(study.cfg.model_dump(mode="json"), study.cfg.seed)
    atomic_write_text(store.root / "config.yaml", dump_config(study.cfg))
    try:
        for stage in targets:
            yield run_stage(store, stage, keys, force=force)
    finally:
        store.finish()


def _missing_upstream(study: Study, targets: list[Stage], done_keys: dict[str, str]) -> list[str]:
    """Upstream stages of `targets` that are not done, followed through stages that are not done either
    (dpo on an empty run dir needs train:sft, base and world), in execution order."""
    order = [s for _, s in study.stages()]
    by_name = {s.name: s for s in order}
    target_names = {s.name for s in targets}
    missing: set[str] = set()
    frontier = [u for s in targets for u in s.upstream]
    while frontier:
        name = frontier.pop()
        if name in target_names or name in missing or name in done_keys:
            continue
        missing.add(name)
        frontier.extend(by_name[name].upstream if name in by_name else [])
    return [s.name for s in order if s.name in missing]


def _groups_for(study: Study, stage_names: list[str]) -> str:
    by_name = {s.name: g for g, s in study.stages()}
    groups = {by_name.get(n, "recover") for n in stage_names}
    order = ["world", "base", "induce", "recover"]
    return ",".join(g for g in order if g in groups)
