"""The run store: one folder per study run, the single source of truth for every stage and the report.

Layout is documented in docs/architecture.md. The manifest records the resolved config, package versions,
seed, git commit, times and one entry per stage: status (running, done, failed), the stage's key (a hash of
its config slice and its upstream stages' keys), the upstream keys it was computed from, times and pid.
Manifest updates take a file lock, so several processes (sweep cells under submitit) can share a store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import os
import platform
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sycolab.cpu_numerics import cpu_model, cpu_numerics
from sycolab.errors import UserError
from sycolab.io import atomic_write_json, read_json
from sycolab.store.records.models import MODEL_RECORD, ModelRecord

DATA_EVAL_PREFIX = "data-"
"""Folder prefix of a `sycolab eval --data` result under eval/<model>/."""
PACKAGES = ("sycolab", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "scikit-learn", "statsmodels")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def write_model_record(folder: Path, name: str, method: str, parent: str | None, params: dict[str, Any],
                       adapter: bool = False, base_model: str | None = None, stage_key: str | None = None,
                       weights_sha256: str | None = None) -> Path:
    """Write models/<name>/sycolab_model.json. `base_model` is a hub id or a path relative to the model folder."""
    record = ModelRecord(name=name, method=method, parent=parent, adapter=adapter, params=params, created=now(),
                         base_model=base_model, stage_key=stage_key, weights_sha256=weights_sha256)
    return atomic_write_json(folder / MODEL_RECORD, record.to_dict())


class RunStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        # -- paths (the layout in docs/architecture.md) ------------------------------------------------
        self.manifest_path = self.root / "manifest.json"
        self.world_dir = self.root / "world"
        self.cache_dir = self.root / "cache"
        self.probe_dir = self.root / "probe"
        self.report_dir = self.root / "report"

    def model_dir(self, name: str) -> Path:
        return inside(self.root, "models", name)

    def training_dir(self, name: str) -> Path:
        return inside(self.root, "training", name)

    def eval_dir(self, name: str) -> Path:
        return inside(self.root, "eval", name)

    # -- models --------------------------------------------------------------------------------
    def list_models(self) -> list[ModelRecord]:
        """Every stored model, oldest first (base, sft, then recovery models in the order they were made),
        the reward model included: which methods make a causal LM is the method registry's to say
        (`sycolab.methods.registry.produces_causal_lm`), not the store's."""
        folder = self.root / "models"
        if not folder.exists():
            return []
        records = [ModelRecord.read(d) for d in folder.iterdir() if (d / MODEL_RECORD).exists()]
        return sorted(records, key=lambda r: (r.created, r.name))

    def model(self, name: str) -> ModelRecord:
        return ModelRecord.read(self.model_dir(name))

    # -- manifest ------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.manifest_path.exists()

    def read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {"stages": {}}
        return read_json(self.manifest_path)

    @contextlib.contextmanager
    def _locked_manifest(self) -> Iterator[dict[str, Any]]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".manifest.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                manifest = self.read_manifest()
                yield manifest
                atomic_write_json(self.manifest_path, manifest)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def init(self, resolved_config: dict[str, Any], seed: int) -> None:
        """Create or refresh the manifest's header; stage entries of an earlier run are kept (resume)."""
        with self._locked_manifest() as m:
            m.setdefault("created", now())
            m["config"] = resolved_config
            m["seed"] = seed
            m["versions"] = package_versions()
            m["git_commit"] = git_commit()
            m["platform"] = platform.platform()
            m["cpu"] = {"model": cpu_model(), **cpu_numerics()}
            m["started"] = now()
            m["ended"] = None
            m.setdefault("stages", {})

    def sweep_leftovers(self) -> list[Path]:
        """Remove what writers killed mid-write left in the store: `.<name>.<random>.tmp` files
        (`sycolab.io.atomic_write_*`) and `.<name>.<random>.partial` / `.<name>.old` folders
        (`sycolab.io.atomic_dir`). Nothing is removed while another live process runs a stage here (its
        temporary files are in use). Returns what was removed."""
        if not self.root.exists() or self._other_live_stage():
            return []
        removed = []
        for path in sorted(self.root.rglob(".*"), key=lambda p: len(p.parts), reverse=True):
            name = path.name
            if path.is_file() and name.endswith(".tmp"):
                path.unlink(missing_ok=True)
            elif path.is_dir() and name.endswith((".partial", ".old")):
                shutil.rmtree(path, ignore_errors=True)
            else:
                continue
            removed.append(path)
        return removed

    def _other_live_stage(self) -> bool:
        stages = self.read_manifest().get("stages", {})
        return any(e.get("status") == "running" and e.get("pid") != os.getpid() and pid_alive(e.get("pid"))
                   for e in stages.values())

    def finish(self) -> None:
        with self._locked_manifest() as m:
            m["ended"] = now()

    def stage(self, name: str) -> dict[str, Any] | None:
        return self.read_manifest().get("stages", {}).get(name)

    def begin_stage(self, name: str, key: str, upstream: dict[str, str], inputs: dict[str, Any] | None = None) -> None:
        """Mark `name` running under `key`; `inputs` records what the key saw (config hash, settings, data files)."""
        with self._locked_manifest() as m:
            m.setdefault("stages", {})[name] = {
                "status": "running", "key": key, "upstream": upstream, "inputs": inputs or {}, "started": now(),
                "ended": None, "pid": os.getpid(), "host": platform.node(),
            }

    def end_stage(self, name: str, status: str, info: dict[str, Any] | None = None, error: str | None = None) -> None:
        with self._locked_manifest() as m:
            entry = m.setdefault("stages", {}).setdefault(name, {})
            entry.update(status=status, ended=now(), error=error)
            if info:
                entry["info"] = info


def inside(root: Path, section: str, name: str) -> Path:
    """`root/section/name`, refusing (UserError, exit 2) a `name` that is not one plain folder name: a
    model name such as `../../x` or `/abs` would otherwise make the store write, or replace, a folder
    outside the run dir. Names are checked when the config is validated; this is the last guard."""
    path = root / section / name
    below = os.path.normpath(os.path.abspath(root / section))
    if (not name or name in (".", "..") or "/" in name or os.sep in name or "\0" in name
            or os.path.dirname(os.path.normpath(os.path.abspath(path))) != below):
        raise UserError(f"{section} name {name!r}: not a plain name (letters, digits, -_.[]=,); "
                        f"it would leave the run dir {root}")
    return path


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The code that computes a stage, recorded in each stage's info ("code"): sycolab's version, and in a git
    checkout the last commit that changed the package's own folder (12 hex digits; commits to docs or configs
    do not change it, and configs enter the stage keys anyway), with ", uncommitted changes" when tracked
    files there differ from it: "0.1.0 (8a3df7a1b2c3)". Stage keys do not hold it (a new version would
    retrain every stage of a resumed 8B study); a skipped stage computed by other code says so instead."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("sycolab")
    except PackageNotFoundError:
        release = "unknown"
    here = Path(__file__).resolve().parents[1]
    commit = _git(here, "log", "-1", "--format=%H", "--", ".")
    if not commit:
        return release
    dirty = _git(here, "status", "--porcelain", "--untracked-files=no", "--", ".")
    return f"{release} ({commit[:12]}{', uncommitted changes' if dirty else ''})"


def _git(cwd: Path, *args: str) -> str:
    """A git command's stripped output in `cwd`, or "" (no git, not a checkout, an error)."""
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def git_commit() -> str | None:
    """HEAD of the checkout sycolab runs from, or None outside one."""
    return _git(Path(__file__).resolve().parent, "rev-parse", "HEAD") or None


def code_versions(stages: dict[str, Any]) -> list[str]:
    """The distinct `info.code` values of a manifest's stage entries, sorted (more than one: a run resumed
    across code changes)."""
    return sorted({c for e in stages.values() if isinstance(c := (e.get("info") or {}).get("code"), str)})


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_model_params(folder: Path) -> dict[str, Any]:
    return ModelRecord.read(folder).params
