"""A study over seeds under two schedules, side by side: one seed study per CPU slot (the schedule before
`sycolab.study.cpu_slots`: three seeds on two cores run two, then the third alone) against one more seed study
than slots (each stage computes only while it holds a slot, so the third seed fills the gaps).

Each round runs the same small tiny-world study over seeds 0, 1, 2 with 2 slots, once per schedule
(interleaved, fresh run dirs, one torch thread per seed); it prints the wall seconds and the children's CPU
seconds of each, the median wall ratio, and whether every seed's models have the same weights digest under
both schedules (they must: a seed's stages run in the same order and thread count).

    .venv/bin/python -m benchmarks.bench_seed_schedule [--rounds 2] [--base-steps 300] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sycolab.cpu_numerics import cpu_model, pin_portable_cpu_numerics
from sycolab.study.seeds import run_seeds, seed_dir

SEEDS = [0, 1, 2]
SLOTS = 2
CONFIG = """name: schedule
seed: 0
seeds: [0, 1, 2]
world:
  seed: 0
  n_entities: 24
  n_unknown_entities: 2
  n_eval_questions: 8
  n_are_you_sure: 8
  n_feedback_eval: 3
  n_feedback_train: 4
  n_feedback_sft: 3
  n_grpo_prompts: 8
  base_gate: false
  stance_gate: false
  base_in_context: 20
base:
  model: tiny
  tiny: {{hidden_size: 64, num_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, intermediate_size: 128}}
  train: {{learning_rate: 3.0e-3, max_steps: {base_steps}, per_device_train_batch_size: 16, logging_steps: 50}}
induce: {{learning_rate: 1.0e-3, max_steps: 30, per_device_train_batch_size: 8, logging_steps: 10}}
recover:
  dpo: {{max_steps: 30, per_device_train_batch_size: 4, logging_steps: 10}}
  simpo: {{max_steps: 30, per_device_train_batch_size: 4, logging_steps: 10}}
evaluate:
  generation: {{batch_size: 32, max_new_tokens: 8}}
  bootstrap_resamples: 50
probe: {{enabled: false}}
"""
SCHEDULES = {"one seed study per slot": SLOTS, "one more seed study than slots": None}


def digests(run_dir: Path) -> dict[str, str]:
    """{seed/model: weights digest} of every trained model of a study over seeds."""
    out = {}
    for seed in SEEDS:
        for record in sorted((seed_dir(run_dir, seed) / "models").glob("*/sycolab_model.json")):
            out[f"{seed}/{record.parent.name}"] = json.loads(record.read_text())["weights_sha256"]
    return out


def run_schedule(config: Path, run_dir: Path, processes: int | None) -> tuple[float, float]:
    """(wall seconds, children's CPU seconds) of one study over seeds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run_seeds(str(config), run_dir, SEEDS, [], parallel=SLOTS, processes=processes, say=lambda _: None)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--base-steps", type=int, default=300)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    pin_portable_cpu_numerics()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-seed-schedule-"))
    config = work / "schedule.yaml"
    work.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG.format(base_steps=args.base_steps))
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in SCHEDULES}
    models: dict[str, list[dict[str, str]]] = {name: [] for name in SCHEDULES}
    for round_ in range(args.rounds):
        for index, (name, processes) in enumerate(SCHEDULES.items()):
            run_dir = work / f"round-{round_}-schedule-{index}"
            times[name].append(run_schedule(config, run_dir, processes))
            models[name].append(digests(run_dir))
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores), {platform.platform()}; seeds {SEEDS}, {SLOTS} slots, "
          f"1 torch thread per seed; base {args.base_steps} steps; {args.rounds} interleaved rounds; work dir {work}")
    print("| schedule | seed studies alive | wall s (each round) | children's CPU s (each round) |")
    print("|---|---:|---|---|")
    for name, processes in SCHEDULES.items():
        alive = processes or SLOTS + 1
        walls = ", ".join(f"{w:.1f}" for w, _ in times[name])
        cpus = ", ".join(f"{c:.1f}" for _, c in times[name])
        print(f"| {name} | {alive} | {walls} | {cpus} |")
    old, new = (statistics.median(w for w, _ in times[name]) for name in SCHEDULES)
    every = [d for runs in models.values() for d in runs]
    same = all(d == every[0] for d in every) and bool(every[0])
    print(f"median wall, one per slot / one more than slots: {old / new:.2f}x; "
          f"every seed's {len(every[0])} models' weights digests equal over schedules and rounds: "
          f"{'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
