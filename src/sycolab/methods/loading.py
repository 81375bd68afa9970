"""What a training run reads: its data rows, its input model (full weights, an adapter merged on disk),
tokenizer and LoRA settings. Heavy libraries (torch, transformers, peft, datasets) are imported inside the
functions that need them, so importing a method module to validate a config stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sycolab.errors import DataError, UserError
from sycolab.io import atomic_dir, atomic_write_json, read_jsonl
from sycolab.methods.config import LoraSettings
from sycolab.methods.registry import MethodContext

if TYPE_CHECKING:
    from datasets import Dataset
    from peft import PeftModel
    from transformers import PreTrainedTokenizerBase

    from sycolab.models.load import CausalLM

MODEL_CARD = "sycolab_model.json"
"""The card `sycolab.methods.export` writes beside an exported model (docs/architecture.md)."""


# --- data -----------------------------------------------------------------------------------------


def data_path(ctx: MethodContext, key: str, method: str) -> Path:
    """The data file `key` of the run; a UserError naming the files it has when it lacks one."""
    if key not in ctx.data:
        have = ", ".join(sorted(ctx.data)) or "none"
        raise UserError(f"{ctx.name}: method '{method}' needs data '{key}', got data for: {have}")
    return Path(ctx.data[key])


def load_rows(ctx: MethodContext, key: str, method: str, columns: tuple[str, ...],
              optional: tuple[str, ...] = ()) -> list[dict]:
    """Rows of a JSONL data file with only `columns` kept; a row missing one is a DataError naming the line.
    `optional` columns are kept too, None in a row without them."""
    path = data_path(ctx, key, method)
    rows = read_jsonl(path)
    if not rows:
        raise DataError(str(path), f"expected training rows for '{method}', got an empty file")
    for i, row in enumerate(rows, start=1):
        missing = [c for c in columns if c not in row]
        if missing:
            raise DataError(str(path), f"expected keys {list(columns)}, missing {missing}", line=i)
    return [{**{c: row[c] for c in columns}, **{c: row.get(c) for c in optional}} for row in rows]


def to_dataset(rows: list[dict]) -> Dataset:
    from datasets import Dataset

    return Dataset.from_list(rows)


# --- models ----------------------------------------------------------------------------------------


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").exists()


def adapter_identity(path: Path) -> dict[str, str | None]:
    """What decides a merge of the adapter in `path`: the key of the stage that trained it (from its
    sycolab_model.json) and its weights digest (adapter weights, adapter config and base)."""
    from sycolab.models.digest import model_weights_key

    card = Path(path) / MODEL_CARD
    stage_key = json.loads(card.read_text(encoding="utf-8")).get("stage_key") if card.exists() else None
    return {"stage_key": stage_key, "weights_sha256": model_weights_key(path)}


def plain_model_path(path: Path, ctx: MethodContext) -> Path:
    """`path` itself, or for a PEFT adapter a merged full copy saved under the work dir, reused only while it
    was merged from the same adapter (same stage key and weights digest, recorded in `merged_from.json`);
    after the adapter changed (SFT re-run) the stale copy is rebuilt.

    Training always starts from full weights; a merged copy on disk (rather than in memory) gives TRL a path to
    build reference models from (GRPOTrainer reloads its reference from `config._name_or_path`) and gives a
    new adapter a base model folder to record.
    """
    if not is_adapter_dir(path):
        return path
    from sycolab.models.digest import MERGED_FROM
    from sycolab.models.load import load_model, load_tokenizer

    merged = ctx.work_dir / f"merged_{Path(path).name}"
    identity = adapter_identity(path)
    recorded = merged / MERGED_FROM
    if (merged / "config.json").exists() and recorded.exists() and json.loads(recorded.read_text()) == identity:
        return merged
    adapter = cast("PeftModel", load_model(path, dtype=ctx.dtype, trust_remote_code=ctx.trust_remote_code))
    model = adapter.merge_and_unload()  # `path` is an adapter folder, so load_model gave a PeftModel
    with atomic_dir(merged) as tmp:
        model.save_pretrained(tmp)
        load_tokenizer(path, ctx.trust_remote_code).save_pretrained(tmp)
        atomic_write_json(tmp / MERGED_FROM, identity)
    return merged


def load_causal_lm(path: Path, ctx: MethodContext) -> CausalLM:
    """A full-weight causal LM in `ctx.dtype`, in train mode, with `config._name_or_path` set to `path`."""
    from sycolab.models.load import load_model

    model = load_model(path, dtype=ctx.dtype, trust_remote_code=ctx.trust_remote_code,
                       attn_implementation=ctx.attn_implementation)
    model.config._name_or_path = str(path)
    model.train()
    return model


def load_tokenizer_for(path: Path, ctx: MethodContext) -> PreTrainedTokenizerBase:
    from sycolab.models.load import load_tokenizer

    return load_tokenizer(path, ctx.trust_remote_code)


def lora_config(lora: LoraSettings, task_type: str = "CAUSAL_LM") -> Any:
    """A peft.LoraConfig for `lora` (task_type CAUSAL_LM for policies, SEQ_CLS for the reward model)."""
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules,
        task_type=task_type,
    )
