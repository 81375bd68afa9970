"""Load any causal LM and its tokenizer: a stored sycolab model, a local checkpoint dir, or a hub id.

Full models load with `AutoModelForCausalLM.from_pretrained(path, dtype=...)`. A folder that holds a PEFT
adapter (`adapter_config.json`) loads its base model first and attaches the adapter. `trust_remote_code`
is off unless the config asks for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from sycolab.errors import UserError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}


def resolve_dtype(name: str) -> torch.dtype | str:
    if name not in DTYPES:
        raise UserError(f"dtype '{name}' is not one of {sorted(DTYPES)}")
    return DTYPES[name]


def load_tokenizer(path: str | Path, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    tok = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(
    path: str | Path, dtype: str = "float32", trust_remote_code: bool = False, device: str | None = None,
    attn_implementation: str | None = None,
) -> PreTrainedModel:
    """A causal LM (or a PEFT adapter over its recorded base) in `dtype`; `attn_implementation` ("eager",
    "sdpa", "flash_attention_2", ...) overrides transformers' choice when given."""
    path = Path(path)
    extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
    adapter_cfg = path / "adapter_config.json"
    if adapter_cfg.exists():
        from peft import PeftModel

        base = json.loads(adapter_cfg.read_text())["base_model_name_or_path"]
        model = AutoModelForCausalLM.from_pretrained(
            base, dtype=resolve_dtype(dtype), trust_remote_code=trust_remote_code, **extra
        )
        model = PeftModel.from_pretrained(model, str(path))
    else:
        if not path.exists() and not _looks_like_hub_id(str(path)):
            raise UserError(f"model '{path}' not found: give a checkpoint folder or a Hugging Face model id")
        model = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=resolve_dtype(dtype), trust_remote_code=trust_remote_code, **extra
        )
    if device:
        model.to(device)
    model.eval()
    return model


def load_model_and_tokenizer(
    path: str | Path, dtype: str = "float32", trust_remote_code: bool = False, device: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model and tokenizer; a checkpoint transformers or PEFT cannot load (missing or unreadable files, an
    adapter whose base is gone) is a one-line UserError naming `path`."""
    try:
        return load_model(path, dtype, trust_remote_code, device), load_tokenizer(path, trust_remote_code)
    except (OSError, ValueError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"model '{path}': cannot load: {reason}") from None


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/"))


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def stored_model_source(folder: str | Path) -> str:
    """What to load for a model folder of the run store: the folder itself when it holds weights or an
    adapter, else the checkpoint its `sycolab_model.json` names (a base model used as-is from the hub)."""
    folder = Path(folder)
    if (folder / "config.json").exists() or (folder / "adapter_config.json").exists():
        return str(folder)
    record = folder / "sycolab_model.json"
    if record.exists():
        base = json.loads(record.read_text()).get("base_model")
        if base:
            return str(base)
    raise UserError(f"model folder '{folder}' holds no weights, adapter or sycolab_model.json")
