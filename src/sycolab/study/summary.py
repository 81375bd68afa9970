"""The short summary `sycolab run` prints at the end, read from the run store only."""

from __future__ import annotations

from typing import TextIO

from sycolab.reporting.terminal import terminal_summary
from sycolab.store import RunStore, code_versions


def stage_table(store: RunStore) -> str:
    """Wall time of every stage of the run (as recorded in the manifest when it ran) and the torch thread
    count it ran with ("-": the stage loaded no torch, or ran before counts were recorded), under the machine,
    so a timing is never quoted without where it was measured."""
    manifest = store.read_manifest()
    stages = manifest.get("stages", {})
    width = max((len(n) for n in stages), default=5)
    lines = [f"Stages (wall time as measured when each ran; machine: {_machine(manifest)})",
             f"{'stage':<{width}}  {'status':<8}  {'seconds':>8}  {'threads':>7}  ended",
             f"{'-' * width}  {'-' * 8}  {'-' * 8}  {'-' * 7}  -----"]
    total = 0.0
    for name, entry in stages.items():
        info = entry.get("info") or {}
        seconds = info.get("seconds")
        total += seconds or 0.0
        shown = f"{seconds:.1f}" if isinstance(seconds, (int, float)) else "-"
        threads = info.get("torch_threads", "-")
        lines.append(f"{name:<{width}}  {entry.get('status', '?'):<8}  {shown:>8}  {threads!s:>7}  "
                     f"{entry.get('ended') or '-'}")
    lines.append(f"{'total':<{width}}  {'':<8}  {total:>8.1f}")
    codes = code_versions(stages)
    if len(codes) > 1:
        lines.append(f"The stages were computed by {len(codes)} versions of sycolab's code: {'; '.join(codes)} "
                     "(resumed across code changes; `code` in each stage's manifest entry).")
    return "\n".join(lines) + "\n"


def _machine(manifest: dict) -> str:
    import os
    import sys

    threads = None
    torch = sys.modules.get("torch")
    if torch is not None:
        threads = torch.get_num_threads()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [manifest.get("platform") or "unknown platform", f"{cpus} CPU cores"]
    if threads is not None:
        parts.append(f"torch threads {threads}")
    return ", ".join(parts)


def print_summary(store: RunStore, out: TextIO) -> None:
    out.write(stage_table(store) + "\n")
    out.write(terminal_summary(store.root))
    out.write("\n")
