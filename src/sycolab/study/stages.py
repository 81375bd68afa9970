"""Stages and resume. A stage's key is the hash of its config slice and its upstream stages' keys; a
finished stage whose key is unchanged is skipped, an interrupted or changed one is redone from scratch.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sycolab.errors import UserError
from sycolab.study.store import RunStore, pid_alive


def stage_key(config_slice: Any, upstream_keys: dict[str, str]) -> str:
    """sha256 over canonical JSON of (config slice, sorted upstream keys), 16 hex digits."""
    payload = json.dumps({"config": config_slice, "upstream": dict(sorted(upstream_keys.items()))},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class Stage:
    name: str
    config_slice: Any
    upstream: list[str]
    run: Callable[[], dict[str, Any] | None]
    description: str = ""
    force: bool = False  # redo even when finished with the same key (eval stages under --rejudge-unscored)
    keys: dict[str, str] = field(default_factory=dict)  # filled by the runner: upstream name -> key

    def key(self, known_keys: dict[str, str]) -> str:
        self.keys = {u: known_keys[u] for u in self.upstream if u in known_keys}
        return stage_key(self.config_slice, self.keys)


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
    store.begin_stage(stage.name, key, stage.keys)
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
    info = {"seconds": round(seconds, 2), **info}
    store.end_stage(stage.name, "done", info=info)
    return StageOutcome(stage.name, "done", seconds, info)


def stage_status(store: RunStore, expected: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(stage, state, detail) for each stage: done, stale, running, interrupted, failed or missing.

    stale: finished, but an upstream stage has since been redone with another key (or is itself stale).
    """
    stages = store.read_manifest().get("stages", {})
    names = list(stages)
    for name in expected or []:
        if name not in stages:
            names.append(name)
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
            state = "done"
            detail = f"{entry.get('info', {}).get('seconds', '?')} s, ended {entry.get('ended')}"
            for up, up_key in entry.get("upstream", {}).items():
                up_entry = stages.get(up)
                if up_entry is None or up_entry.get("key") != up_key or states.get(up) == "stale":
                    state, detail = "stale", f"upstream '{up}' changed since this stage ran"
                    break
        states[name] = state
        rows.append((name, state, detail))
    return rows
