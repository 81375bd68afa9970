"""Run-store model folders built without training: a random tiny base model and PEFT LoRA adapters over it
(with nonzero B matrices, so each adapter changes the model), saved as the pipeline saves them.

    from _adapter_store import save_base, save_adapter
    base = save_base(run / "models" / "base")
    sft = save_adapter(run / "models" / "sft", base, seed=1, stage_key="k1")
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from sycolab.models.digest import weights_sha256
from sycolab.models.load import relative_base_model
from sycolab.models.testing import build_tiny_model, build_tiny_tokenizer
from sycolab.store import write_model_record


def save_base(folder: Path, seed: int = 0) -> Path:
    tokenizer = build_tiny_tokenizer()
    build_tiny_model(tokenizer, seed=seed).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_model_record(folder, "base", "sft", None, {}, stage_key="k-base", weights_sha256=weights_sha256(folder))
    return folder


def save_adapter(folder: Path, base: Path, seed: int, stage_key: str, cwd: Path | None = None) -> Path:
    """A LoRA adapter over `base`, saved from working directory `cwd` (PEFT records the base path as the
    process saw it: relative to `cwd` when `base` is given relative)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from sycolab.models.load import load_tokenizer

    here = Path.cwd()
    base = ((cwd or here) / base).resolve()
    os.chdir(cwd or here)
    try:
        shown_base = os.path.relpath(base, Path.cwd())
        model = AutoModelForCausalLM.from_pretrained(shown_base)
        peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, param in peft.named_parameters():
                if "lora_B" in name:
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
        peft.save_pretrained(folder)
        load_tokenizer(base).save_pretrained(folder)
    finally:
        os.chdir(here)
    base_digest = weights_sha256(base)
    write_model_record(folder, folder.name, "sft", "base", {}, adapter=True,
                       base_model=relative_base_model(base, folder), stage_key=stage_key,
                       weights_sha256=weights_sha256(folder, base_digest))
    return folder


def logits(model, text_ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([text_ids])).logits[0]
