"""sycolab.generation: one interface (`GenerationBackend.generate(prompts, params)`) over batched
transformers generation (default) and vLLM (optional, GPU), with an SQLite generation cache.

Typical use from the evaluation runner::

    cfg = GenerationConfig(**study.evaluate.generation)
    backend = build_backend(cfg, model, tokenizer, model_id=f"{name}@{model_fingerprint(model_dir)}",
                            cache_path=run_dir / CACHE_RELPATH)
    completions = backend.generate(prompts, cfg.sampling_params())   # one list of n strings per prompt
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any, cast

from sycolab.errors import UserError
from sycolab.generation.base import BatchCallback, GenerationBackend, SamplingParams
from sycolab.generation.cache import CACHE_RELPATH, CachedBackend, GenerationCache, model_fingerprint
from sycolab.generation.chat import postprocess_completion, render_prompt, strip_think, truncate_at_stop
from sycolab.generation.config import GenerationConfig, VLLMOptions

if TYPE_CHECKING:
    from sycolab.generation.hf import HFBackend
    from sycolab.generation.vllm import VLLMBackend, vllm_available
    from sycolab.models.load import CausalLM

# The backends import torch/transformers; load them on first use so that importing the config schema
# (sycolab.generation.config) stays cheap for commands that never generate.
_LAZY = {
    "HFBackend": "sycolab.generation.hf",
    "VLLMBackend": "sycolab.generation.vllm",
    "vllm_available": "sycolab.generation.vllm",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CACHE_RELPATH",
    "BatchCallback",
    "CachedBackend",
    "GenerationBackend",
    "GenerationCache",
    "GenerationConfig",
    "HFBackend",
    "SamplingParams",
    "VLLMBackend",
    "VLLMOptions",
    "build_backend",
    "model_fingerprint",
    "postprocess_completion",
    "render_prompt",
    "strip_think",
    "truncate_at_stop",
    "vllm_available",
]


def build_backend(
    cfg: GenerationConfig,
    model: Any,
    tokenizer: Any,
    model_id: str,
    cache_path: str | os.PathLike | None = None,
) -> GenerationBackend:
    """The backend `cfg.backend` names, wrapped in a `CachedBackend` when `cache_path` is given.

    hf: `model` is a loaded transformers (or PEFT) causal LM and `tokenizer` its tokenizer.
    vllm: `model` is a model folder or hub id (an adapter folder is served as base + LoRA); vLLM loads
    its own tokenizer, so `tokenizer` is ignored.
    """
    import torch

    from sycolab.generation.hf import HFBackend
    from sycolab.generation.vllm import VLLMBackend

    backend: GenerationBackend
    if cfg.backend == "hf":
        if not isinstance(model, torch.nn.Module):
            raise UserError(
                f"{model_id}: the hf generation backend needs a loaded model, got {type(model).__name__}; "
                "load it with sycolab.models.load.load_model_and_tokenizer"
            )
        if tokenizer is None:
            raise UserError(f"{model_id}: the hf generation backend needs the model's tokenizer")
        backend = HFBackend(cast("CausalLM", model), tokenizer, model_id, batch_size=cfg.batch_size)
    elif cfg.backend == "vllm":
        if not isinstance(model, (str, os.PathLike)):
            raise UserError(
                f"{model_id}: the vllm generation backend needs a model folder or hub id, got a "
                f"{type(model).__name__}; pass the path the model was saved to (models/<name>/)"
            )
        backend = VLLMBackend(model, model_id, options=cfg.vllm)
    else:  # pragma: no cover - GenerationConfig validates the name
        raise UserError(f"generation.backend: expected 'hf' or 'vllm', got {cfg.backend!r}")
    if cache_path is not None:
        return CachedBackend(backend, cache_path)
    return backend
