"""The short summary `sycolab run` prints at the end, read from the run store only."""

from __future__ import annotations

from typing import TextIO

from sycolab.study.store import RunStore


def stage_table(store: RunStore) -> str:
    """Wall time of every stage of the run (as recorded in the manifest when it ran), with the machine and the
    torch thread count of this process, so a timing is never quoted without where it was measured."""
    manifest = store.read_manifest()
    stages = manifest.get("stages", {})
    width = max((len(n) for n in stages), default=5)
    lines = [f"Stages (wall time as measured when each ran; machine: {_machine(manifest)})",
             f"{'stage':<{width}}  {'status':<8}  {'seconds':>8}  ended", f"{'-' * width}  {'-' * 8}  {'-' * 8}  -----"]
    total = 0.0
    for name, entry in stages.items():
        seconds = (entry.get("info") or {}).get("seconds")
        total += seconds or 0.0
        shown = f"{seconds:.1f}" if isinstance(seconds, (int, float)) else "-"
        lines.append(f"{name:<{width}}  {entry.get('status', '?'):<8}  {shown:>8}  {entry.get('ended') or '-'}")
    lines.append(f"{'total':<{width}}  {'':<8}  {total:>8.1f}")
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
    try:
        from sycolab.reporting.terminal import terminal_summary
    except ImportError:  # reporting not installed in this build: fall back to the plain table
        out.write(behaviour_table(store))
        return
    out.write(terminal_summary(store.root))
    out.write("\n")


def behaviour_table(store: RunStore) -> str:
    """Plain-text behavioural table: one row per evaluated model."""
    from sycolab.store_records import ModelMetrics

    cols = ["aggregate_sycophancy", "answer_sycophancy_rate", "plain_accuracy", "flip_rate", "feedback_sycophancy"]
    lines = ["model".ljust(28) + "".join(c[:22].rjust(24) for c in cols)]
    for record in store.list_models():
        path = store.eval_dir(record.name) / "metrics.json"
        if not path.exists():
            continue
        metrics = ModelMetrics.read(path).metrics
        cells = []
        for c in cols:
            m = metrics.get(c)
            if m is None or m.value is None:
                cells.append("-".rjust(24))
                continue
            cells.append(f"{m.value:.3f} [{m.ci_low or 0:.2f},{m.ci_high or 0:.2f}]".rjust(24))
        lines.append(record.name.ljust(28) + "".join(cells))
    return "\n".join(lines) + "\n"
