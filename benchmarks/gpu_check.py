"""GPU check: sycolab's training methods against bare TRL, activation extraction and generation, one script.

At Qwen3-1.7B's shapes (hidden 2048, 28 layers, 16 query / 8 KV heads of 128, MLP 6,144, vocabulary 151,936,
tied embeddings: 1.72B parameters) with random weights in bf16 and synthetic word data (no downloads), on
one GPU, it measures:
- SFT, DPO and GRPO steps run through sycolab's methods (`sycolab.methods.get_method(...).run`) and through
  TRL's trainers built directly with the same settings; step time = median gap between consecutive logged
  steps after `warmup` steps (logging every step on both sides), ratio sycolab / bare (target <= 1.1);
- activation extraction (`sycolab.probing.activations.extract_activations`, every layer): prompts/s;
- batched HF generation (`sycolab.generation.HFBackend`, greedy): new tokens/s;
- peak GPU memory of every stage, beside the planned figure of `docs/scaling.md` for the same stage at 8B.

GRPO is rewarded by sycolab's answer rule (`rule_reward`) on both sides, so no reward model is loaded.
`--tiny` (the default without CUDA) runs the same code at a 2-layer, hidden-64 shape on CPU in seconds: the
test suite runs it so the script cannot rot. Prints a Markdown table; `--out FILE` also writes it.

    python -m benchmarks.gpu_check [--tiny] [--out benchmarks/results/<date>-gpu.md]

On a GPU machine with torch but no network, carry sycolab's dependencies as wheels (`pip download -d wheels
-r requirements.lock` beforehand, then `pip install --no-index --find-links wheels -e .` there).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Qwen3-1.7B's published config (random weights here).
QWEN3_1_7B: dict[str, Any] = {
    "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 28, "num_attention_heads": 16,
    "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936, "tie_word_embeddings": True,
    "max_position_embeddings": 4096,
}
#: vocab_size None: the tokenizer's.
TINY: dict[str, Any] = {
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "head_dim": 16, "vocab_size": None, "tie_word_embeddings": False,
    "max_position_embeddings": 512,
}
#: Per-GPU memory planned in docs/scaling.md section 6 for the same stage (Qwen3-8B, LoRA, DDP).
PLANNED_8B = {"sft": "~23 GB", "dpo": "~22 GB", "grpo": "~40 GB", "activations": "~18 GB", "generation": "~32 GB"}
ROWS = ("sft", "dpo", "grpo", "activations", "generation")
TARGET_RATIO = 1.1


@dataclass(frozen=True)
class Sizes:
    """Workload sizes (tokens are words of the synthetic vocabulary: one word, one token)."""

    prompt_words: int
    completion_words: int
    batch: int
    steps: int
    warmup: int
    grpo_generations: int
    grpo_completion_tokens: int
    n_prompts: int
    new_tokens: int


FULL_SIZES = Sizes(prompt_words=256, completion_words=256, batch=8, steps=12, warmup=3, grpo_generations=8,
                   grpo_completion_tokens=128, n_prompts=256, new_tokens=128)
TINY_SIZES = Sizes(prompt_words=12, completion_words=8, batch=4, steps=5, warmup=1, grpo_generations=2,
                   grpo_completion_tokens=6, n_prompts=16, new_tokens=6)


@dataclass(frozen=True)
class Row:
    """One stage: sycolab's figure, bare TRL's (training only), their ratio, peak memory."""

    stage: str
    metric: str
    sycolab: float
    bare: float | None
    peak_gb: float | None
    detail: str

    @property
    def ratio(self) -> float | None:
        return None if self.bare is None else self.sycolab / self.bare


# -- inputs ----------------------------------------------------------------------------------------------

def write_inputs(folder: Path, shape: dict[str, Any], sizes: Sizes, dtype: str, seed: int = 0) -> dict[str, Path]:
    """A random Qwen3 of `shape` saved with a word tokenizer, and sft/preference/grpo JSONL files of words."""
    import random

    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from sycolab.io import write_jsonl
    from sycolab.models.testing import build_tiny_tokenizer

    # A word for every id of the model's vocabulary (6 ids are the tokenizer's special tokens), so that
    # every generated id decodes and counts; the data uses the first 2,000 words.
    n_words = shape["vocab_size"] - 6 if shape["vocab_size"] else 2000
    tokenizer = build_tiny_tokenizer([f"w{i}" for i in range(n_words)])
    vocab = len(tokenizer)
    words = [f"w{i}" for i in range(2000)]
    config = Qwen3Config(**{**shape, "vocab_size": vocab}, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=None, dtype=dtype)
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config).to(getattr(torch, dtype))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model_dir = folder / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    del model

    rng = random.Random(seed)

    def text(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n))

    n_rows = max(sizes.batch * (sizes.steps + 1), sizes.n_prompts)
    user = [[{"role": "user", "content": text(sizes.prompt_words)}] for _ in range(n_rows)]
    paths = {"sft": folder / "sft.jsonl", "preference": folder / "preference.jsonl",
             "grpo_prompts": folder / "grpo_prompts.jsonl"}
    write_jsonl(paths["sft"], [{"prompt": p, "completion": [{"role": "assistant", "content": text(sizes.completion_words)}]}
                               for p in user])
    write_jsonl(paths["preference"], [{"prompt": p, "chosen": [{"role": "assistant", "content": text(sizes.completion_words)}],
                                       "rejected": [{"role": "assistant", "content": text(sizes.completion_words)}]}
                                      for p in user])
    write_jsonl(paths["grpo_prompts"], [{"prompt": p, "correct_answer": "w1", "incorrect_answer": "w2"} for p in user])
    return {"model": model_dir, **paths}


def method_settings(method: str, sizes: Sizes, cuda: bool) -> dict[str, Any]:
    """The settings both sides train with (sycolab's method config; the bare TRL config gets the same values)."""
    common = {"learning_rate": 1e-5, "max_steps": sizes.steps, "per_device_train_batch_size": sizes.batch,
              "logging_steps": 1, "max_length": sizes.prompt_words + sizes.completion_words + 16, "bf16": cuda,
              "gradient_checkpointing": True, "seed": 0}  # on in --tiny too: the GPU run's code path
    if method == "dpo":
        return {**common, "beta": 0.1}
    if method == "grpo":
        return {**common, "per_device_train_batch_size": sizes.grpo_generations * max(1, sizes.batch // 4),
                "num_generations": sizes.grpo_generations, "max_completion_length": sizes.grpo_completion_tokens,
                "reward": "rule", "beta": 0.04, "temperature": 0.7}
    return common


# -- training: sycolab vs bare TRL -----------------------------------------------------------------------

def step_seconds(times: list[float], warmup: int) -> float:
    """Median gap between consecutive step-end times, after dropping the first `warmup` steps."""
    gaps = [b - a for a, b in zip(times[warmup:], times[warmup + 1:])]
    if not gaps:
        raise ValueError(f"need more than {warmup + 1} logged steps, got {len(times)}")
    return statistics.median(gaps)


def sycolab_step(method: str, inputs: dict[str, Path], work: Path, sizes: Sizes, cuda: bool) -> float:
    """Run `method` through sycolab's registry; step time from its diagnostics.csv `wall_time_s`."""
    from sycolab.io import read_table
    from sycolab.methods import MethodContext, get_method
    from sycolab.methods.validation import validate_config

    spec = get_method(method)
    config = validate_config(spec.config_cls, method_settings(method, sizes, cuda), where=method)
    ctx = MethodContext(name=method, config=config, input_model=inputs["model"], output_dir=work / "models" / method,
                        work_dir=work / "training" / method, data=inputs, seed=0,
                        reference_model=inputs["model"] if method == "dpo" else None,
                        dtype="bfloat16" if cuda else "float32", use_cpu=not cuda)
    spec.run(ctx)
    rows = read_table(ctx.work_dir / "diagnostics.csv")
    return step_seconds([float(r["wall_time_s"]) for r in rows if r.get("wall_time_s") not in (None, "")],
                        sizes.warmup)


def bare_trl_step(method: str, inputs: dict[str, Path], work: Path, sizes: Sizes, cuda: bool) -> float:
    """The same training with TRL's trainer built by hand (no sycolab code but the reward function)."""
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    settings = method_settings(method, sizes, cuda)
    dtype = torch.bfloat16 if cuda else torch.float32
    times: list[float] = []

    class StepClock(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "train_runtime" not in logs:
                times.append(time.perf_counter())

    def model() -> Any:
        return AutoModelForCausalLM.from_pretrained(inputs["model"], dtype=dtype)

    tokenizer = AutoTokenizer.from_pretrained(inputs["model"])
    common: dict[str, Any] = {
        "output_dir": str(work / "bare" / method), "learning_rate": settings["learning_rate"],
        "max_steps": settings["max_steps"], "per_device_train_batch_size": settings["per_device_train_batch_size"],
        "logging_steps": 1, "logging_first_step": True, "bf16": cuda, "use_cpu": not cuda, "report_to": [],
        "save_strategy": "no", "seed": 0, "data_seed": 0, "disable_tqdm": True, "gradient_checkpointing": None,
        "activation_checkpointing": settings["gradient_checkpointing"], "dataloader_pin_memory": cuda,
    }
    if method == "sft":
        from trl import SFTConfig, SFTTrainer

        trainer = SFTTrainer(model=model(), processing_class=tokenizer,
                             train_dataset=load_dataset("json", data_files=str(inputs["sft"]), split="train"),
                             args=SFTConfig(**common, max_length=settings["max_length"], completion_only_loss=True,
                                            packing=False),
                             callbacks=[StepClock()])
    elif method == "dpo":
        from trl import DPOConfig, DPOTrainer

        trainer = DPOTrainer(model=model(), ref_model=model(), processing_class=tokenizer,
                             train_dataset=load_dataset("json", data_files=str(inputs["preference"]), split="train"),
                             args=DPOConfig(**common, max_length=settings["max_length"], beta=settings["beta"],
                                            loss_type=["sigmoid"]),
                             callbacks=[StepClock()])
    else:
        from trl import GRPOConfig, GRPOTrainer

        from sycolab.methods._rewards import rule_reward

        trainer = GRPOTrainer(model=model(), reward_funcs=rule_reward, processing_class=tokenizer,
                              train_dataset=load_dataset("json", data_files=str(inputs["grpo_prompts"]), split="train"),
                              args=GRPOConfig(**common, num_generations=settings["num_generations"],
                                              max_completion_length=settings["max_completion_length"],
                                              temperature=settings["temperature"], beta=settings["beta"],
                                              loss_type="dapo", scale_rewards="group"),
                              callbacks=[StepClock()])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # as sycolab does: no log dict per step on stdout
    trainer.train()
    return step_seconds(times, sizes.warmup)


# -- probing and generation ------------------------------------------------------------------------------

def _prompts(inputs: dict[str, Path], n: int) -> list[list[dict]]:
    from sycolab.io import read_jsonl

    return [row["prompt"] for row in read_jsonl(inputs["grpo_prompts"])[:n]]


def activation_rate(inputs: dict[str, Path], work: Path, sizes: Sizes, cuda: bool) -> tuple[float, str]:
    """prompts/s of `extract_activations` over every layer (a warm-up batch first)."""
    from sycolab.models.load import load_model_and_tokenizer
    from sycolab.probing.activations import extract_activations

    model, tokenizer = load_model_and_tokenizer(inputs["model"], dtype="bfloat16" if cuda else "float32")
    if cuda:
        model.to("cuda")
    prompts = _prompts(inputs, sizes.n_prompts)
    ids = [str(i) for i in range(len(prompts))]
    extract_activations(model, tokenizer, prompts[:4], ids[:4], work / "acts-warmup", batch_size=16)
    info = extract_activations(model, tokenizer, prompts, ids, work / "acts", batch_size=16)
    return info.prompts_per_s, f"{len(prompts)} prompts of ~{sizes.prompt_words + 5} tokens, {len(info.layers)} layers, batch 16"


def generation_rate(inputs: dict[str, Path], sizes: Sizes, cuda: bool) -> tuple[float, str]:
    """New tokens/s of `HFBackend` greedy generation (exactly `new_tokens` each: no eos is ever likely)."""
    from sycolab.generation import HFBackend, SamplingParams
    from sycolab.models.load import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(inputs["model"], dtype="bfloat16" if cuda else "float32")
    if cuda:
        model.to("cuda")
    backend = HFBackend(model, tokenizer, "gpu-check", batch_size=64, progress=False)
    prompts = _prompts(inputs, sizes.n_prompts)
    params = SamplingParams(max_new_tokens=sizes.new_tokens)
    backend.generate(prompts[:4], SamplingParams(max_new_tokens=2))
    start = time.perf_counter()
    outputs = backend.generate(prompts, params)
    seconds = time.perf_counter() - start
    tokens = sum(len(tokenizer(o[0], add_special_tokens=False)["input_ids"]) for o in outputs)
    return tokens / seconds, f"{len(prompts)} prompts, <= {sizes.new_tokens} new tokens, batch 64, {tokens} tokens"


# -- the check -------------------------------------------------------------------------------------------

def run_check(tiny: bool, work: Path, out: Callable[[str], None] = print) -> list[Row]:
    """Every row of the check, in `ROWS` order."""
    import torch

    cuda = torch.cuda.is_available() and not tiny
    shape, sizes = (TINY, TINY_SIZES) if tiny else (QWEN3_1_7B, FULL_SIZES)
    inputs = write_inputs(work / "inputs", shape, sizes, "bfloat16" if cuda else "float32")

    def measured(label: str, fn: Callable[[], Any]) -> tuple[Any, float | None]:
        out(f"gpu_check: {label} ...")
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        value = fn()
        return value, (torch.cuda.max_memory_allocated() / 1024**3 if cuda else None)

    rows: list[Row] = []
    for method in ("sft", "dpo", "grpo"):
        ours, peak = measured(f"{method} through sycolab",
                              lambda m=method: sycolab_step(m, inputs, work, sizes, cuda))
        bare, bare_peak = measured(f"{method} through bare TRL",
                                   lambda m=method: bare_trl_step(m, inputs, work, sizes, cuda))
        settings = method_settings(method, sizes, cuda)
        bare_memory = "" if bare_peak is None else f"; bare TRL peak {bare_peak:.1f} GB"
        rows.append(Row(method, "s/step", ours, bare, peak, f"batch {settings['per_device_train_batch_size']}, "
                        f"{sizes.steps} steps (median after {sizes.warmup}){bare_memory}"))
    (rate, detail), peak = measured("activation extraction", lambda: activation_rate(inputs, work, sizes, cuda))
    rows.append(Row("activations", "prompts/s", rate, None, peak, detail))
    (rate, detail), peak = measured("generation", lambda: generation_rate(inputs, sizes, cuda))
    rows.append(Row("generation", "tokens/s", rate, None, peak, detail))
    return rows


def markdown(rows: list[Row], machine: str, tiny: bool, command: str) -> str:
    shape = "tiny CPU shape (hidden 64, 2 layers)" if tiny else "Qwen3-1.7B shape, random weights, bf16"
    lines = [f"# GPU check, {dt.date.today().isoformat()} ({shape})", "", f"Command: `{command}`", "",
             f"Machine: {machine}", "",
             (f"| stage | metric | sycolab | bare TRL | sycolab / bare (target <= {TARGET_RATIO}) | peak GPU GB | "
              "planned at 8B (docs/scaling.md) | setup |"), "|---|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        bare = "" if r.bare is None else f"{r.bare:.4g}"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        peak = "" if r.peak_gb is None else f"{r.peak_gb:.1f}"
        lines.append(f"| {r.stage} | {r.metric} | {r.sycolab:.4g} | {bare} | {ratio} | {peak} | "
                     f"{PLANNED_8B[r.stage]} | {r.detail} |")
    return "\n".join(lines) + "\n"


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.platform()}, torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}"


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny shapes on CPU (the default without CUDA)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    parser.add_argument("--work-dir", type=Path, help="where models and data go (default: a temporary folder)")
    args = parser.parse_args(argv)
    tiny = args.tiny or not torch.cuda.is_available()
    with tempfile.TemporaryDirectory(prefix="sycolab-gpu-check-", dir=args.work_dir) as work:
        start = time.perf_counter()
        rows = run_check(tiny, Path(work))
        took = time.perf_counter() - start
    command = "python -m benchmarks.gpu_check" + (" --tiny" if args.tiny else "")
    text = markdown(rows, machine(), tiny, command) + f"\nWall time {took:.0f} s.\n"
    print(text)
    if args.out:
        from sycolab.io import atomic_write_text

        atomic_write_text(args.out, text)
    bad = [r.stage for r in rows if not math.isfinite(r.sycolab) or (r.ratio is not None and not math.isfinite(r.ratio))]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
