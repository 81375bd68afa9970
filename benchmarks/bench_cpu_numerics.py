"""The portable CPU numerics (`sycolab.cpu_numerics`) against the CPU's native ones, side by side.

Each round trains the tiny study's model shape (hidden 128, 4 layers) for `--steps` AdamW steps on fixed random
token ids in a fresh child process, once with the CPU's native kernels (the three variables unset) and once
pinned, interleaved. It prints, per setting, the kernel build torch used, the SHA-256 of the trained weights
(equal within a setting on one machine; under the pin, equal on every x86-64 CPU with AVX2 if the pin does its
job: compare the digest with the one in `benchmarks/results/`) and the median seconds of the training loop,
then the pinned / native time ratio.

    .venv/bin/python -m benchmarks.bench_cpu_numerics [--steps 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

from sycolab.cpu_numerics import PORTABLE_CPU_ENV, cpu_model

CHILD = r"""
import hashlib, json, sys, time
import torch
from sycolab.cpu_numerics import cpu_numerics
from sycolab.models.testing import build_tiny_tokenizer
from sycolab.models.tiny import TinyModelConfig, build_tiny_model

steps = int(sys.argv[1])
torch.set_num_threads(1)
tokenizer = build_tiny_tokenizer([f"w{i}" for i in range(400)])
shape = TinyModelConfig(hidden_size=128, num_layers=4, num_attention_heads=4, num_key_value_heads=2,
                        intermediate_size=384, initializer_range=0.08)
model = build_tiny_model(shape, tokenizer, seed=0)
model.config._attn_implementation = "eager"
ids = torch.Generator().manual_seed(1)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95))
start = time.perf_counter()
for _ in range(steps):
    batch = torch.randint(6, len(tokenizer), (16, 24), generator=ids)
    model(input_ids=batch, labels=batch).loss.backward()
    optimizer.step()
    optimizer.zero_grad()
seconds = time.perf_counter() - start
digest = hashlib.sha256()
for p in model.parameters():
    digest.update(p.detach().numpy().tobytes())
print(json.dumps({"seconds": seconds, "sha256": digest.hexdigest(), **cpu_numerics()}))
"""


def run_child(steps: int, pinned: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PORTABLE_CPU_ENV}
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(PORTABLE_CPU_ENV if pinned else {})})
    out = subprocess.run([sys.executable, "-c", CHILD, str(steps)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    runs: dict[str, list[dict]] = {"native": [], "portable": []}
    for _ in range(args.rounds):
        for name in runs:
            runs[name].append(run_child(args.steps, pinned=name == "portable"))
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores), {platform.platform()}; 1 torch thread; "
          f"{args.steps} steps, {args.rounds} interleaved rounds")
    print("| numerics | kernel build | MKL_CBWR | weights SHA-256 (first 16) | digests equal over rounds | median s |")
    print("|---|---|---|---|---|---:|")
    median = {}
    for name, rows in runs.items():
        median[name] = statistics.median(r["seconds"] for r in rows)
        same = len({r["sha256"] for r in rows}) == 1
        first = rows[0]
        print(f"| {name} | {first['aten_cpu_capability']} | {first['mkl_cbwr']} | {first['sha256'][:16]} | "
              f"{'yes' if same else 'NO'} | {median[name]:.2f} |")
    print(f"portable / native time: {median['portable'] / median['native']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
