"""Stages and resume. A stage's key is the hash of everything that decides its result: its config slice,
its upstream stages' keys, and its inputs (`StageInputs`): the content hash of each data file it reads, the
study seed, and for evaluation the judge and generation settings. A finished stage whose key is unchanged
is skipped; an interrupted or changed one is redone from scratch. The manifest records each stage's input
fingerprints, so `stage_status` can say why a stage is stale ("data file eval/answer.jsonl changed").
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sycolab.errors import UserError
from sycolab.models.digest import file_sha256
from sycolab.store import RunStore, code_version, display_path, pid_alive
from sycolab.study.cpu_slots import cpu_slot

SETTING_NAMES = {"seed": "seed", "judge": "judge", "generation": "generation settings",
                 "vocabulary": "the tiny tokenizer's vocabulary", "gate_world": "the base gate's world or settings",
                 "cpu_numerics": "the CPU numerics (kernel build, MKL branch: sycolab.cpu_numerics)"}
"""Settings a stage may depend on, and how a stale reason names them."""


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _short_hash(obj: Any) -> str:
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()[:16]


def stage_key(config_slice: Any, upstream_keys: dict[str, str], inputs: dict[str, Any] | None = None) -> str:
    """sha256 over canonical JSON of (config slice, sorted upstream keys, input fingerprints), 16 hex
    digits. Data files enter by content hash only, so a moved file with the same bytes keeps the key."""
    payload: dict[str, Any] = {"config": config_slice, "upstream": dict(sorted(upstream_keys.items()))}
    if inputs and (inputs.get("settings") or inputs.get("data")):
        payload["inputs"] = {"settings": inputs.get("settings", {}),
                             "data": {n: d["sha256"] for n, d in inputs.get("data", {}).items()}}
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StageInputs:
    """What a stage reads besides its config slice and upstream models: data files by config name
    (`answer`, `sft`, ...) and settings (`seed`, `judge`, `generation`) that decide its result."""

    data: dict[str, Path] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    root: Path | None = None  # the run dir: data paths inside it are recorded relative to it

    def fingerprint(self) -> dict[str, Any]:
        """{"settings": {name: hash}, "data": {name: {"path", "sha256" (None: file missing)}}}."""
        data = {}
        for name, path in sorted(self.data.items()):
            shown = display_path(path, self.root) if self.root else str(path)
            data[name] = {"path": shown, "sha256": file_sha256(path) if Path(path).is_file() else None}
        return {"settings": {k: _short_hash(v) for k, v in sorted(self.settings.items())}, "data": data}


@dataclass
class Stage:
    name: str
    config_slice: Any
    upstream: list[str]
    run: Callable[[], dict[str, Any] | None]
    description: str = ""
    force: bool = False  # redo even when finished with the same key (eval stages under --rejudge-unscored)
    keys: dict[str, str] = field(default_factory=dict)  # filled by the runner: upstream name -> key
    inputs: Callable[[], StageInputs] | None = None  # called when the key is computed (after upstream ran)
    fingerprint: dict[str, Any] = field(default_factory=dict)  # filled by `key`: the inputs' fingerprint
    reads: list[str] = field(default_factory=list)  # earlier stages whose files `inputs` reads, not keyed by their key

    def key(self, known_keys: dict[str, str]) -> str:
        self.keys = {u: known_keys[u] for u in self.upstream if u in known_keys}
        self.fingerprint = self.inputs().fingerprint() if self.inputs else {}
        return stage_key(self.config_slice, self.keys, self.fingerprint)

    def recorded_inputs(self) -> dict[str, Any]:
        """The manifest's record of what this key saw: config hash plus the input fingerprint."""
        return {"config": _short_hash(self.config_slice), **self.fingerprint}


@dataclass
class StageOutcome:
    name: str
    status: str  # "skipped" | "done"
    seconds: float
    info: dict[str, Any] | None = None


def run_stage(store: RunStore, stage: Stage, known_keys: dict[str, str], force: bool = False) -> StageOutcome:
    """Run `stage` unless the store holds a finished run with the same key. Records state in the manifest."""
    key = stage.key(known_keys)
    known_keys[stage.name] = key
    prior = store.stage(stage.name)
    if not (force or stage.force) and prior and prior.get("status") == "done" and prior.get("key") == key:
        return StageOutcome(stage.name, "skipped", 0.0, prior.get("info"))
    with cpu_slot():  # a study over seeds: wait for one of the machine's CPU slots (no-op otherwise)
        store.begin_stage(stage.name, key, stage.keys, inputs=stage.recorded_inputs())
        start = time.perf_counter()
        try:
            info = stage.run() or {}
        except UserError as e:
            store.end_stage(stage.name, "failed", error=str(e))
            raise
        except BaseException as e:  # KeyboardInterrupt included: the stage is marked failed, then re-raised
            store.end_stage(stage.name, "failed", error=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}")
            raise
        seconds = time.perf_counter() - start
    info = {"seconds": round(seconds, 2), **_torch_threads(), "code": code_version(), **info}
    store.end_stage(stage.name, "done", info=info)
    return StageOutcome(stage.name, "done", seconds, info)


def _torch_threads() -> dict[str, int]:
    """`{"torch_threads": N}`, torch's intra-op thread count, when this process has loaded torch (a stage
    that trained or ran a model), else `{}`. The thread count changes a trained model's floats (reductions
    split another way), so every stage records the count it ran with beside its time: a resumed run dir
    can mix counts, and a timing is never quoted without it."""
    torch = sys.modules.get("torch")
    return {"torch_threads": int(torch.get_num_threads())} if torch is not None else {}


def thread_mismatch(outcome: StageOutcome) -> str:
    """For a skipped stage that recorded another torch thread count than this process runs with: "; ran at N
    torch threads, this process has M" (its floats would differ here), else "". Stages that load no torch,
    and processes that have not loaded it, compare nothing."""
    recorded = (outcome.info or {}).get("torch_threads")
    current = _torch_threads().get("torch_threads")
    if outcome.status != "skipped" or recorded is None or current is None or recorded == current:
        return ""
    return f"; ran at {recorded} torch threads, this process has {current}"


def code_mismatch(outcome: StageOutcome) -> str:
    """For a skipped stage computed by other code than this process runs (`sycolab.store.code_version`):
    "; computed by sycolab 0.1.0 (...), this is 0.1.0 (...)": its result is what that code made, which a
    changed training or evaluation function would not remake. Stages from before the record compare nothing."""
    recorded = (outcome.info or {}).get("code")
    current = code_version()
    if outcome.status != "skipped" or not recorded or recorded == current:
        return ""
    return f"; computed by sycolab {recorded}, this is {current}"


def skip_notes(outcome: StageOutcome) -> str:
    """What a skip line adds about a skipped stage made under other conditions: `thread_mismatch`, then
    `code_mismatch`."""
    return thread_mismatch(outcome) + code_mismatch(outcome)


def stage_status(store: RunStore, expected: list[str] | list[Stage] | None = None) -> list[tuple[str, str, str]]:
    """(stage, state, detail) for each stage: done, stale, running, interrupted, failed or missing.

    stale: finished, but something that decides its result has changed since: an upstream stage was redone
    with another key (or is itself stale), or, when `expected` gives the study's `Stage` objects, a data
    file's content, the seed, the judge, the generation settings or the config slice. The detail says which.
    A done stage whose `reads` stage is not done says so: its inputs are read from that stage's files.
    """
    stages = store.read_manifest().get("stages", {})
    current = {s.name: s for s in expected or [] if isinstance(s, Stage)}
    expected_names = [item.name if isinstance(item, Stage) else item for item in expected or []]
    names = [*expected_names, *(name for name in stages if name not in expected_names)]  # execution order first
    states: dict[str, str] = {}
    rows = []
    for name in names:
        entry = stages.get(name)
        if entry is None:
            state, detail = "missing", ""
        elif entry["status"] == "running":
            alive = pid_alive(entry.get("pid"))
            state = "running" if alive else "interrupted"
            detail = f"since {entry.get('started')}" + ("" if alive else " (process gone; rerun to redo)")
        elif entry["status"] == "failed":
            state, detail = "failed", (entry.get("error") or "").splitlines()[0][:120] if entry.get("error") else ""
        else:
            stage = current.get(name)
            reason = _stale_reason(entry, stages, states, stage)
            state = "stale" if reason else "done"
            detail = reason or f"{entry.get('info', {}).get('seconds', '?')} s, ended {entry.get('ended')}"
            unsettled = [r for r in (stage.reads if stage else []) if states.get(r, "missing") != "done"]
            if not reason and unsettled:
                detail += (f" (reads '{unsettled[0]}', which is {states.get(unsettled[0], 'missing')}: checked again "
                           "once it is rewritten)")
        states[name] = state
        rows.append((name, state, detail))
    return rows


def _stale_reason(entry: dict[str, Any], stages: dict[str, Any], states: dict[str, str],
                  stage: Stage | None) -> str | None:
    """Why a finished stage no longer matches what would decide it now, or None."""
    upstream = entry.get("upstream", {})
    for up, up_key in upstream.items():
        up_entry = stages.get(up)
        if up_entry is None or up_entry.get("key") != up_key:
            return f"upstream '{up}' changed since this stage ran"
    if stage is not None and stage.key(upstream) != entry.get("key"):
        if "inputs" not in entry:
            return "run by an older sycolab whose keys did not cover data files and settings; rerun to redo it"
        return _changed_input(entry["inputs"], stage.recorded_inputs()) or "its inputs changed since it ran"
    for up in upstream:
        if states.get(up) == "stale":
            return f"upstream '{up}' is stale"
    return None


def _changed_input(before: dict[str, Any], now: dict[str, Any]) -> str | None:
    """The first recorded input that differs: a data file, a setting, or the config slice."""
    old_data, new_data = before.get("data", {}), now.get("data", {})
    for name in sorted(set(old_data) | set(new_data)):
        old, new = old_data.get(name), new_data.get(name)
        if new is None:
            return f"data '{name}' no longer read"
        if new["sha256"] is None:
            return f"data file {new['path']} missing"
        if old is None:
            return f"data '{name}' now read from {new['path']}"
        if old["sha256"] != new["sha256"]:
            if old["path"] != new["path"]:
                return f"data '{name}' now read from {new['path']} (was {old['path']}, other content)"
            return f"data file {new['path']} changed"
    old_settings, new_settings = before.get("settings", {}), now.get("settings", {})
    for name in sorted(set(old_settings) | set(new_settings)):
        if old_settings.get(name) != new_settings.get(name):
            return f"{SETTING_NAMES.get(name, name)} changed"
    if before.get("config") and before.get("config") != now.get("config"):
        return "config changed"
    return None
