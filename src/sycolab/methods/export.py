"""Export a trained model into the run store: merge or keep a LoRA adapter, hard-link the files, write the
model card `sycolab_model.json` (docs/architecture.md)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sycolab.io import atomic_dir, atomic_write_json
from sycolab.methods.config import TrainingConfig
from sycolab.methods.loading import MODEL_CARD, is_adapter_dir
from sycolab.methods.registry import MethodContext


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link a file when the filesystem allows (no extra disk for multi-GB weights), else copy it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _parent_name(input_model: Path) -> str | None:
    card = Path(input_model) / MODEL_CARD
    if card.exists():
        return json.loads(card.read_text(encoding="utf-8")).get("name")
    return None


def export_model(
    source: Path,
    ctx: MethodContext,
    method: str,
    cfg: TrainingConfig,
    base_model: Path,
    auto_class: str = "AutoModelForCausalLM",
    base_kwargs: dict[str, Any] | None = None,
    files: dict[str, Any] | None = None,
) -> Path:
    """Write the model saved in `source` to `ctx.output_dir` (atomically) with its sycolab_model.json and the
    JSON `files` a method keeps beside its model (the reward model's reward_stats.json).

    A LoRA adapter is merged into full weights when `cfg.lora.merge`, else kept as an adapter whose base is
    `base_model` (`auto_class` loads it for merging, with `base_kwargs`). Files are hard-linked where possible,
    so exporting a multi-GB model costs no copy.
    """
    from sycolab.models.load import relative_base_model

    adapter = is_adapter_dir(source)
    merge = adapter and cfg.lora is not None and cfg.lora.merge
    with atomic_dir(ctx.output_dir) as tmp:
        if merge:
            import transformers
            from peft import PeftModel

            from sycolab.models.load import load_tokenizer, resolve_dtype

            auto = getattr(transformers, auto_class)
            base = auto.from_pretrained(
                str(base_model), dtype=resolve_dtype(ctx.dtype), trust_remote_code=ctx.trust_remote_code,
                **(base_kwargs or {}),
            )
            merged = PeftModel.from_pretrained(base, str(source)).merge_and_unload()
            merged.save_pretrained(tmp)
            load_tokenizer(source, ctx.trust_remote_code).save_pretrained(tmp)
        else:
            shutil.copytree(source, tmp, dirs_exist_ok=True, copy_function=_link_or_copy)
        card = {
            "name": ctx.name,
            "method": method,
            "parent": _parent_name(ctx.input_model),
            "adapter": adapter and not merge,
            "base_model": relative_base_model(base_model, ctx.output_dir),
            "params": cfg.model_dump(mode="json"),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        atomic_write_json(tmp / MODEL_CARD, card)
        for name, content in (files or {}).items():
            atomic_write_json(tmp / name, content)
    return ctx.output_dir
