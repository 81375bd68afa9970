"""Child processes that do not outlive the process that started them.

A study's seed children and accelerate's launcher write into the run store; if the parent is killed (a
scheduler's SIGTERM, `kill`, an out-of-memory kill) and they kept running, a rerun of the same command would
start a second writer on the same store. On Linux `prctl(PR_SET_PDEATHSIG, SIGTERM)` asks the kernel to send
the child SIGTERM when the thread that started it ends (prctl(2)); elsewhere nothing is asked.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl


# Looked up here, in the parent: the function below runs in the forked child before exec, where importing
# (which takes the import lock another thread of the parent may have held at fork) is not safe.
_PRCTL = _prctl()


def die_with_parent() -> None:
    """`preexec_fn` for `subprocess.Popen`: the child gets SIGTERM when its starting thread ends. The
    starting thread must wait for the child (as `proc.wait()` does), or the child is stopped early."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)
