"""Benchmark: batched HF generation vs a one-prompt-at-a-time loop on the same prompts.

A tiny random Qwen3 (hidden 128, 4 layers, the tiny world's size) answers ~256 chat prompts of about
20 tokens with 12 new tokens, greedily, batched at each `--batch-size` (default 64 and 256) and one prompt
at a time, all in one run so machine load hits every path alike. Every path must give identical outputs; the
script prints samples/s of each and the speed-ups (target >= 20x). Run `python -m benchmarks.bench_generation`
or call `main(argv)`.
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from sycolab.generation import HFBackend, SamplingParams, render_prompt
from sycolab.models.testing import build_tiny_model, build_tiny_tokenizer

TARGET_SPEEDUP = 20.0


def _vocabulary(size: int) -> list[str]:
    return [f"w{i}" for i in range(size)] + ["?", ".", ","]


def _prompts(count: int, words: list[str], seed: int) -> list[list[dict]]:
    """Chat prompts whose rendered length is ~20 tokens (5 tokens of chat markup + 11-19 words)."""
    rng = random.Random(seed)
    return [
        [{"role": "user", "content": " ".join(rng.choice(words) for _ in range(rng.randint(11, 19))) + " ?"}]
        for _ in range(count)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=12)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[64, 256],
                        help="batch sizes measured side by side against the same one-at-a-time loop")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared 2-core machine 2 threads oversubscribe)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    tokenizer = build_tiny_tokenizer(_vocabulary(400))
    model = build_tiny_model(
        tokenizer, hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, head_dim=32, seed=args.seed,
    )
    prompts = _prompts(args.prompts, _vocabulary(400)[:-3], args.seed)
    params = SamplingParams(max_new_tokens=args.new_tokens)
    n_params = sum(p.numel() for p in model.parameters())
    n_tokens = [len(tokenizer(render_prompt(tokenizer, p), add_special_tokens=False)["input_ids"]) for p in prompts]
    print(f"model: Qwen3 hidden 128, 4 layers, {n_params / 1e6:.2f}M params; {len(prompts)} prompts of "
          f"{min(n_tokens)}-{max(n_tokens)} tokens (mean {sum(n_tokens) / len(n_tokens):.1f}); "
          f"{args.new_tokens} new tokens; {args.threads} threads")

    single_backend = HFBackend(model, tokenizer, "bench", batch_size=1, progress=False)
    backends = {size: HFBackend(model, tokenizer, "bench", batch_size=size, progress=False)
                for size in args.batch_size}
    for backend in (single_backend, *backends.values()):  # warm-up
        backend.generate(prompts[:8], params)

    batched: dict[int, tuple[float, list[list[str]]]] = {}
    for size, backend in backends.items():
        start = time.perf_counter()
        outputs = backend.generate(prompts, params)
        batched[size] = (time.perf_counter() - start, outputs)

    start = time.perf_counter()
    single = [single_backend.generate([p], params)[0] for p in prompts]
    single_s = time.perf_counter() - start

    print(f"one at a time:           {len(prompts) / single_s:8.1f} samples/s ({single_s:.2f} s)")
    failed = 0
    for size, (seconds, outputs) in batched.items():
        same = sum(a == b for a, b in zip(outputs, single))
        print(f"batched (batch {size:>4}):   {len(prompts) / seconds:8.1f} samples/s ({seconds:.2f} s): "
              f"speed-up {single_s / seconds:.1f}x (target >= {TARGET_SPEEDUP:.0f}x); identical greedy outputs "
              f"{same}/{len(prompts)}")
        failed += same != len(prompts)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
