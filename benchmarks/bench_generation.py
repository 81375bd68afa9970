"""Benchmark: batched HF generation vs a one-prompt-at-a-time loop on the same prompts.

A tiny random Qwen3 (hidden 128, 4 layers, the tiny world's size) answers ~256 chat prompts of about
20 tokens with 12 new tokens, greedily, batched at each `--batch-size` (default 64 and 256) and one prompt
at a time, interleaved in one run (`benchmarks.suite.generation_ratios`) so machine load hits every path alike. Every path must give identical outputs; the
script prints samples/s of each and the speed-ups (target >= 20x). Run `python -m benchmarks.bench_generation`
or call `main(argv)`.
"""

from __future__ import annotations

import argparse
import random

import torch

from benchmarks.suite import generation_ratios
from sycolab.generation import render_prompt
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
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (see suite.generation_ratios)")
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
    n_params = sum(p.numel() for p in model.parameters())
    n_tokens = [len(tokenizer(render_prompt(tokenizer, p), add_special_tokens=False)["input_ids"]) for p in prompts]
    print(f"model: Qwen3 hidden 128, 4 layers, {n_params / 1e6:.2f}M params; {len(prompts)} prompts of "
          f"{min(n_tokens)}-{max(n_tokens)} tokens (mean {sum(n_tokens) / len(n_tokens):.1f}); "
          f"{args.new_tokens} new tokens; {args.threads} threads")

    ratios = generation_ratios(model, tokenizer, prompts, tuple(args.batch_size), args.new_tokens, args.rounds)
    print(f"one at a time: {ratios[0].baseline_s:.2f} s wall")
    for r in ratios:
        print(f"{r.optimised}: {r.optimised_s:.2f} s wall, {len(prompts) / r.optimised_s:.1f} samples/s; "
              f"speed-up {r.ratio:.1f}x wall (target >= {TARGET_SPEEDUP:.0f}x); {r.check}")
    return 0 if all(f"identical greedy outputs {len(prompts)}/{len(prompts)}" in r.check for r in ratios) else 1


if __name__ == "__main__":
    raise SystemExit(main())
