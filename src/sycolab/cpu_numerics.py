"""CPU numerics that give the same floats on every x86-64 CPU with AVX2, so a study trained on one machine
is the study trained on another.

PyTorch's CPU kernels dispatch on the widest vector instructions the CPU has (AVX-512 on one machine, AVX2 on
the next), and MKL's matrix products on the CPU's vendor and instructions; each choice sums in its own order.
Training turns those last-bit differences into different models: the same config, seed and lock file gave
base answer sycophancy 0.214 on one 2-core machine and 0.104 on another, and a different list of methods
below SFT (`benchmarks/results/2026-12-01-cpu-numerics.md`). The pin below fixes both choices:
- `ATEN_CPU_CAPABILITY=avx2`: PyTorch's vectorised kernels use their AVX2 build on every CPU that has it;
- `MKL_CBWR=COMPATIBLE`: MKL's conditional numerical reproducibility branch, one SSE2 code path without the
  approximation instructions that differ between vendors, with fixed blocking and deterministic reductions:
  the one branch besides AUTO that MKL supports on non-Intel CPUs (oneMKL developer guide, "Specifying Code
  Branches");
- `ONEDNN_MAX_CPU_ISA=AVX2`: oneDNN's kernels, where PyTorch uses them, capped likewise.
With a fixed thread count this should make training bit-for-bit repeatable across such CPUs (checked on one
CPU model so far); the pin costs about 1.7 times the time of a small-model training step on this project's
2-core machine (`benchmarks/bench_cpu_numerics.py`). A variable the user set wins (e.g. `MKL_CBWR=AUTO` for
speed), and `cpu_numerics()` records what is in effect, so a run dir's stage keys change when the numerics do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from importlib.metadata import version
from typing import Any

PORTABLE_CPU_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "AVX2"}
"""The environment that pins the CPU numerics (see the module docstring)."""


def pin_portable_cpu_numerics(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set every `PORTABLE_CPU_ENV` variable the environment does not already set; returns what was set.
    Call before torch runs its first operation (MKL and ATen read these once): the CLI does, first thing, and
    every process it starts (seeds, submitit jobs, accelerate ranks) inherits them."""
    env = os.environ if environ is None else environ
    added = {k: v for k, v in PORTABLE_CPU_ENV.items() if k not in env}
    env.update(added)
    return added


def cpu_numerics(environ: MutableMapping[str, str] | None = None) -> dict[str, Any]:
    """What decides this process's CPU floats: the kernel build PyTorch dispatches to, MKL's and oneDNN's
    settings, torch's version. Part of every trained stage's key (through the base stage's) and of the run
    manifest. Where torch is loaded the kernel build is read from it, so a variable set after torch chose its
    kernels is not believed; elsewhere (`sycolab status`, a cached `sycolab eval`) torch is not imported for
    this, and the build is the one `ATEN_CPU_CAPABILITY` asks for, which the CLI always sets."""
    env = os.environ if environ is None else environ
    torch = sys.modules.get("torch")
    if torch is not None:
        capability = torch.backends.cpu.get_cpu_capability()
    else:
        capability = env.get("ATEN_CPU_CAPABILITY", "native").upper()
    return {"aten_cpu_capability": capability,
            "mkl_cbwr": env.get("MKL_CBWR", "off"),
            "onednn_max_cpu_isa": env.get("ONEDNN_MAX_CPU_ISA", "native"),
            "torch": version("torch")}


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), or the platform's processor string; for the manifest."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as fh:
                for line in fh:
                    if line.lower().startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
    import platform

    return platform.processor() or platform.machine()
