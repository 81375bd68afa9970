"""CPU slots shared by the processes of a study over seeds: at most N stages compute at once on this machine.

Seeds used to run as N single-thread processes, one per core; three seeds on two cores ran two studies, then
the third alone with one core idle (`make study`: 76 min, of which ~38 with one core busy). Now every seed's
process starts (up to slots + 1 at a time) and each stage that has to compute first takes one of N slots:
lock files `slot-<i>.lock` in a folder, held with `flock` for the stage's run, so a killed process frees its
slot. Stages run in the same process, order and thread count as before, so a model's floats do not change;
only the waits between stages do, and a stage's recorded seconds start once it holds its slot.

A process waiting for a slot leaves a marker `waiting-<pid>`; a process that frees a slot while a live marker
exists steps aside for `HANDOFF_S` before it asks again, so the waiting seed gets the core instead of the one
that just had it (flock queues no one). The slots apply on the machine that set them (`SLOTS_ENV` holds
"N@hostname"): a stage that a SLURM job runs on another node ignores them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from sycolab.store import pid_alive

SLOTS_ENV = "SYCOLAB_CPU_SLOTS"
"""`N@hostname`: how many stages may compute at once, and on which machine."""
SLOTS_DIR_ENV = "SYCOLAB_CPU_SLOTS_DIR"
"""The folder holding the slot lock files and waiting markers."""
HANDOFF_S = 0.3
POLL_S = 0.05


def slots_environment(folder: Path, count: int) -> dict[str, str]:
    """The environment variables that make a process and its children share `count` slots in `folder`."""
    return {SLOTS_ENV: f"{count}@{socket.gethostname()}", SLOTS_DIR_ENV: str(Path(folder).resolve())}


def configured_slots(environ: MutableMapping[str, str] | None = None) -> tuple[Path, int] | None:
    """(folder, count) when this process was given slots on this machine, else None."""
    env = os.environ if environ is None else environ
    spec, folder = env.get(SLOTS_ENV), env.get(SLOTS_DIR_ENV)
    if not spec or not folder:
        return None
    count, _, host = spec.partition("@")
    if host != socket.gethostname() or not count.isdigit() or int(count) < 1:
        return None
    return Path(folder), int(count)


@contextlib.contextmanager
def cpu_slot(environ: MutableMapping[str, str] | None = None) -> Iterator[int | None]:
    """Hold one of the configured slots for the body (yields its index), or do nothing (yields None) when no
    slots are configured. Blocks until a slot is free."""
    slots = configured_slots(environ)
    if slots is None:
        yield None
        return
    folder, count = slots
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f"waiting-{os.getpid()}"
    handle, index = _try_slots(folder, count)
    if handle is None:
        marker.touch()
        try:
            while handle is None:
                time.sleep(POLL_S)
                handle, index = _try_slots(folder, count)
        finally:
            marker.unlink(missing_ok=True)
    try:
        yield index
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
        if _others_waiting(folder):
            time.sleep(HANDOFF_S)


def _try_slots(folder: Path, count: int):
    """(open locked file, index) of the first free slot, or (None, None)."""
    for index in range(count):
        handle = open(folder / f"slot-{index}.lock", "a+")  # held until the slot is released
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return handle, index
    return None, None


def _others_waiting(folder: Path) -> bool:
    """A live process other than this one waits for a slot (markers of dead processes are removed)."""
    for marker in folder.glob("waiting-*"):
        pid = marker.name.removeprefix("waiting-")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        if pid_alive(int(pid)):
            return True
        marker.unlink(missing_ok=True)
    return False
