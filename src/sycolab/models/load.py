"""Load any causal LM and its tokenizer: a stored sycolab model, a local checkpoint dir, or a hub id.

Full models load with `AutoModelForCausalLM.from_pretrained(path, dtype=...)`. A folder that holds a PEFT
adapter (`adapter_config.json`) loads its base model first and attaches the adapter. `trust_remote_code`
is off unless the config asks for it.

Run dirs are relocatable: a stored model names its base (`sycolab_model.json` "base_model") by a path
relative to its own folder, and `resolve_base_model` turns that, or any older spelling (a path relative to
the working directory the study ran in, as PEFT writes into `adapter_config.json`), into a path that exists
from any working directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sycolab.errors import UserError
from sycolab.models.digest import MODEL_RECORD

if TYPE_CHECKING:  # torch and transformers load at the first model or tokenizer load, not at import
    import torch
    from transformers import GenerationMixin, PreTrainedModel, PreTrainedTokenizerBase

    class CausalLM(PreTrainedModel, GenerationMixin):
        """What `load_model` returns: every `*ForCausalLM` class is both (transformers 5's `PreTrainedModel`
        alone has no `generate`); a PEFT wrapper forwards both interfaces to the model inside."""

DTYPES = ("float32", "bfloat16", "float16", "auto")


def resolve_dtype(name: str) -> torch.dtype | str:
    if name not in DTYPES:
        raise UserError(f"dtype '{name}' is not one of {sorted(DTYPES)}")
    import torch

    return name if name == "auto" else getattr(torch, name)


def load_tokenizer(path: str | Path, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(
    path: str | Path, dtype: str = "float32", trust_remote_code: bool = False, device: str | None = None,
    attn_implementation: str | None = None,
) -> CausalLM:
    """A causal LM (or a PEFT adapter over its recorded base) in `dtype`; `attn_implementation` ("eager",
    "sdpa", "flash_attention_2", ...) overrides transformers' choice when given."""
    from transformers import AutoModelForCausalLM

    path = Path(path)
    extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
    adapter_cfg = path / "adapter_config.json"
    if adapter_cfg.exists():
        from peft import PeftModel

        base = adapter_base(path)
        base_model = AutoModelForCausalLM.from_pretrained(
            base, dtype=resolve_dtype(dtype), trust_remote_code=trust_remote_code, **extra
        )
        model = cast("CausalLM", PeftModel.from_pretrained(base_model, str(path)))
    else:
        if not path.exists() and not _looks_like_hub_id(str(path)):
            raise UserError(f"model '{path}' not found: give a checkpoint folder or a Hugging Face model id")
        model = cast("CausalLM", AutoModelForCausalLM.from_pretrained(
            str(path), dtype=resolve_dtype(dtype), trust_remote_code=trust_remote_code, **extra
        ))
    if device:
        model.to(device)  # type: ignore[arg-type]  # transformers' @wraps(Module.to) stub drops the bound self
    model.eval()
    return model


def load_model_and_tokenizer(
    path: str | Path, dtype: str = "float32", trust_remote_code: bool = False, device: str | None = None
) -> tuple[CausalLM, PreTrainedTokenizerBase]:
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
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def stored_model_source(folder: str | Path) -> str:
    """What to load for a model folder of the run store: the folder itself when it holds weights or an
    adapter, else the checkpoint its `sycolab_model.json` names (a base model used as-is from the hub)."""
    folder = Path(folder)
    if (folder / "config.json").exists() or (folder / "adapter_config.json").exists():
        return str(folder)
    record = folder / MODEL_RECORD
    if record.exists():
        base = json.loads(record.read_text()).get("base_model")
        if base:
            return resolve_base_model(folder, str(base))
    raise UserError(f"model folder '{folder}' holds no weights, adapter or sycolab_model.json")



def relative_base_model(base: str | Path, model_folder: str | Path) -> str:
    """How a model record names its base: a folder inside the run dir (the model folder's grandparent) as a
    path relative to `model_folder`, so the run dir can move; a folder outside it as an absolute path; a
    hub id unchanged."""
    base_path = Path(base)
    if not base_path.exists():
        return str(base)
    folder = Path(model_folder).resolve()
    resolved = base_path.resolve()
    if not resolved.is_relative_to(folder.parent.parent):
        return str(resolved)
    return os.path.relpath(resolved, folder)


def resolve_base_model(folder: str | Path, base: str) -> str:
    """The base model `base` named by stored model `folder`, as a loadable path or hub id. Tried in order:
    an absolute path that exists; a path relative to `folder` (how sycolab records it); for an older record
    or a PEFT `adapter_config.json`, a path relative to the working directory, then its tail inside this
    folder's run dir (`runs/tiny/models/base` -> `<run dir>/models/base`); a hub id."""
    folder = Path(folder).resolve()
    candidate = Path(base)
    if candidate.is_absolute():
        if candidate.exists():
            return str(candidate)
    else:
        if (folder / candidate).exists():
            return str((folder / candidate).resolve())
        if candidate.exists():
            return str(candidate.resolve())
    parts = candidate.parts
    for run_dir in (folder.parent.parent, folder.parent.parent.parent):  # models/<name>, training/<name>/merged_x
        for i in range(len(parts)):
            tail = run_dir.joinpath(*parts[i:])
            if tail.exists() and tail.resolve() != folder and parts[i] in ("models", "training"):
                return str(tail.resolve())
    if not candidate.is_absolute() and _looks_like_hub_id(base) and not candidate.exists():
        return base
    raise UserError(f"model '{folder}': its base model '{base}' was not found (looked beside the model folder, in "
                    f"the working directory and in the run dir {folder.parent.parent}); copy it there or fix "
                    f"'base_model' in {folder / MODEL_RECORD}")


def adapter_base(folder: str | Path) -> str:
    """The base model of the PEFT adapter in `folder`. Preferred: the sycolab record's `base_model` when it is
    a path relative to the folder (as sycolab writes it); else `adapter_config.json`'s
    `base_model_name_or_path` (PEFT writes the path as the training process saw it); either resolved by
    `resolve_base_model`, so that loading does not depend on the working directory."""
    folder = Path(folder)
    record = folder / MODEL_RECORD
    recorded = json.loads(record.read_text()).get("base_model") if record.exists() else None
    if recorded and not Path(recorded).is_absolute() and (folder / recorded).exists():
        return str((folder / recorded).resolve())
    base = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path") or recorded
    if not base:
        raise UserError(f"{folder / 'adapter_config.json'}: no 'base_model_name_or_path' and no sycolab_model.json; "
                        "cannot tell which base model the adapter applies to")
    return resolve_base_model(folder, str(base))
