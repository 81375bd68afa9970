"""vLLM backend (optional; GPU): the same interface and sampling semantics as the HF backend, much faster.

vLLM is imported lazily, so this module imports without it. A model folder that holds a PEFT adapter
(`adapter_config.json`) is served as its base model plus a `LoRARequest`. Prompts are sent through
`llm.chat` with `chat_template_kwargs={"enable_thinking": False}`; prompts ending in an assistant turn are
sent in a separate call with `continue_final_message=True, add_generation_prompt=False`.

Sampling: each prompt gets its own seed derived from `params.seed` and the prompt, so sampled completions
do not depend on batching (unlike the HF backend) and different prompts never share a random stream.

First-token constraint (`params.allowed_first_tokens`): vLLM's `allowed_token_ids` restricts every
generated token, so it is done in two calls: a one-token call with `allowed_token_ids` (n samples), then
each sampled first token is appended to the final assistant turn and continued unconstrained for the
remaining `max_new_tokens - 1` tokens (one completion each, under a seed derived from the prompt's seed
and the sample index). Only prompts that continue an assistant turn (e.g. "The answer is (") can be
constrained this way; others are refused.

Only one engine is kept per process: asking for a different base model or engine options drops the
previous engine first (vLLM does not always give all GPU memory back; one model per process is safest).
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sycolab.errors import UserError
from sycolab.generation._torch_utils import derived_seed
from sycolab.generation.base import BatchCallback, SamplingParams
from sycolab.generation.cache import canonical_messages
from sycolab.generation.chat import is_continuation, postprocess_completion, validate_messages
from sycolab.generation.config import VLLMOptions

_INSTALL_HINT = (
    "generation.backend is 'vllm' but vLLM is not installed in this environment; install it with "
    "`pip install 'sycolab[vllm]'` (needs a CUDA GPU) or set generation.backend: hf"
)


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def _import_vllm() -> Any:
    if not vllm_available():
        raise UserError(_INSTALL_HINT)
    return importlib.import_module("vllm")


@dataclass(frozen=True)
class ModelSource:
    """What vLLM loads: `base` (folder or hub id) and, for a PEFT adapter folder, the adapter path."""

    base: str
    adapter: str | None = None


def resolve_model_source(model: str | os.PathLike, adapter: str | os.PathLike | None = None) -> ModelSource:
    """A model folder with `adapter_config.json` is an adapter over its base (`base_model_name_or_path`, or
    the sycolab record's `base_model`, found by `sycolab.models.load.adapter_base`); anything else is loaded
    as a full model (a local folder or a hub id)."""
    if adapter is not None:
        return ModelSource(base=str(model), adapter=str(adapter))
    path = Path(model)
    adapter_config = path / "adapter_config.json"
    if not adapter_config.is_file():
        return ModelSource(base=str(model))
    try:
        base = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except json.JSONDecodeError as e:
        raise UserError(f"{adapter_config}: invalid JSON ({e.msg})") from None
    if not base:
        raise UserError(
            f"{adapter_config}: no 'base_model_name_or_path'; vLLM needs the base model to apply the adapter"
        )
    # the base is resolved so that loading does not depend on the working directory
    from sycolab.models.load import adapter_base

    return ModelSource(base=adapter_base(path), adapter=str(path))


def request_seed(params: SamplingParams, prompt: list[dict]) -> int | None:
    """Per-prompt seed for sampled decoding (None for greedy, which needs none)."""
    return None if params.greedy else derived_seed(params.seed, canonical_messages(prompt)) % (2**31)


def vllm_sampling_kwargs(params: SamplingParams, seed: int | None = None) -> dict[str, Any]:
    """`SamplingParams` -> keyword arguments for `vllm.SamplingParams`. Greedy asks for one completion
    (the backend copies it `n` times) at temperature 0; sampling passes temperature, top_p, top_k (-1 = off,
    which every vLLM version accepts), n and `seed`."""
    if params.greedy:
        return {
            "n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": params.max_new_tokens,
            "stop": list(params.stop), "seed": None, "skip_special_tokens": True,
        }
    return {
        "n": params.n, "temperature": params.temperature, "top_p": params.top_p, "top_k": params.top_k or -1,
        "max_tokens": params.max_new_tokens, "stop": list(params.stop), "seed": seed, "skip_special_tokens": True,
    }


def vllm_chat_kwargs(continued: bool) -> dict[str, Any]:
    """Keyword arguments for `llm.chat`: continue the final assistant turn, or open a new one."""
    return {
        "add_generation_prompt": not continued,
        "continue_final_message": continued,
        "chat_template_kwargs": {"enable_thinking": False},
    }


def vllm_engine_kwargs(source: ModelSource, options: VLLMOptions) -> dict[str, Any]:
    """Keyword arguments for `vllm.LLM`."""
    kwargs: dict[str, Any] = {
        "model": source.base,
        "dtype": options.dtype,
        "gpu_memory_utilization": options.gpu_memory_utilization,
        "tensor_parallel_size": options.tensor_parallel_size,
        "enforce_eager": options.enforce_eager,
        "seed": 0,
    }
    if options.max_model_len is not None:
        kwargs["max_model_len"] = options.max_model_len
    if source.adapter is not None:
        kwargs.update(enable_lora=True, max_lora_rank=options.max_lora_rank)
    return kwargs


def split_by_continuation(prompts: list[list[dict]]) -> tuple[list[int], list[int]]:
    """Indices of prompts that open a new assistant turn, and of those that continue one."""
    fresh: list[int] = []
    continued: list[int] = []
    for i, p in enumerate(prompts):
        (continued if is_continuation(p) else fresh).append(i)
    return fresh, continued


def completions_from_output(texts: list[str], params: SamplingParams) -> list[str]:
    """vLLM output texts for one prompt -> the `n` returned completions."""
    cleaned = [postprocess_completion(t, params.stop) for t in texts]
    return cleaned * params.n if params.greedy else cleaned


class _EngineRegistry:
    """The process's one vLLM engine, and stable integer ids for LoRA adapters."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.llm: Any = None
        self.lora_ids: dict[str, int] = {}

    def get(self, source: ModelSource, options: VLLMOptions) -> Any:
        kwargs = vllm_engine_kwargs(source, options)
        key = json.dumps(kwargs, sort_keys=True, default=str)
        if self.key != key:
            self.release()
            vllm = _import_vllm()
            self.llm, self.key = vllm.LLM(**kwargs), key
        return self.llm

    def lora_request(self, adapter: str, name: str) -> Any:
        from vllm.lora.request import LoRARequest

        lora_id = self.lora_ids.setdefault(adapter, len(self.lora_ids) + 1)
        return LoRARequest(name, lora_id, adapter)

    def release(self) -> None:
        if self.llm is None:
            return
        self.llm, self.key = None, None
        self.lora_ids.clear()
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover
            pass


_ENGINES = _EngineRegistry()


class VLLMBackend:
    """`GenerationBackend` over vLLM's offline `LLM` engine."""

    def __init__(
        self,
        model: str | os.PathLike,
        model_id: str,
        *,
        adapter: str | os.PathLike | None = None,
        options: VLLMOptions | None = None,
    ):
        if not vllm_available():
            raise UserError(_INSTALL_HINT)
        self.model_id = model_id
        self.source = resolve_model_source(model, adapter)
        self.options = options or VLLMOptions()
        self.batch_size = self.options.chunk_size

    def generate(
        self, prompts: list[list[dict]], params: SamplingParams, on_batch: BatchCallback | None = None
    ) -> list[list[str]]:
        for i, p in enumerate(prompts):
            validate_messages(p, where=f"prompts[{i}]")
        if params.allowed_first_tokens:
            return self._generate_first_token_constrained(prompts, params, on_batch)
        vllm = _import_vllm()
        llm = _ENGINES.get(self.source, self.options)
        lora = _ENGINES.lora_request(self.source.adapter, self.model_id) if self.source.adapter else None
        results: list[list[str]] = [[] for _ in prompts]
        for start in range(0, len(prompts), self.batch_size):
            chunk = list(range(start, min(start + self.batch_size, len(prompts))))
            fresh, continued = split_by_continuation([prompts[i] for i in chunk])
            for group, is_cont in ((fresh, False), (continued, True)):
                if not group:
                    continue
                members = [prompts[chunk[j]] for j in group]
                sampling = [
                    vllm.SamplingParams(**vllm_sampling_kwargs(params, request_seed(params, p))) for p in members
                ]
                outputs = llm.chat(members, sampling, use_tqdm=True, lora_request=lora, **vllm_chat_kwargs(is_cont))
                for j, output in zip(group, outputs):
                    results[chunk[j]] = completions_from_output([c.text for c in output.outputs], params)
            if on_batch is not None:
                on_batch(chunk, [results[i] for i in chunk])
        return results

    def _generate_first_token_constrained(
        self, prompts: list[list[dict]], params: SamplingParams, on_batch: BatchCallback | None
    ) -> list[list[str]]:
        """The two-call first-token constraint described in the module docstring."""
        fresh, _ = split_by_continuation(prompts)
        if fresh:
            raise UserError(
                f"prompts[{fresh[0]}]: vLLM applies allowed_first_tokens only to prompts that continue an "
                "assistant turn (e.g. 'The answer is ('); this prompt opens a new one"
            )
        from sycolab.generation.first_token import first_token_ids

        vllm = _import_vllm()
        llm = _ENGINES.get(self.source, self.options)
        lora = _ENGINES.lora_request(self.source.adapter, self.model_id) if self.source.adapter else None
        allowed_ids = first_token_ids(llm.get_tokenizer(), params.allowed_first_tokens, self.model_id)
        results: list[list[str]] = [[] for _ in prompts]
        for start in range(0, len(prompts), self.batch_size):
            chunk = list(range(start, min(start + self.batch_size, len(prompts))))
            members = [prompts[i] for i in chunk]
            seeds = [request_seed(params, p) for p in members]
            first_calls = [vllm.SamplingParams(**first_token_kwargs(params, seed, allowed_ids)) for seed in seeds]
            outputs = llm.chat(members, first_calls, use_tqdm=True, lora_request=lora, **vllm_chat_kwargs(True))
            firsts = [[c.text for c in output.outputs] for output in outputs]
            rests: list[list[str]] = [["" for _ in f] for f in firsts]
            if params.max_new_tokens > 1:
                jobs = [(j, k) for j, f in enumerate(firsts) for k in range(len(f))]
                continued = [with_first_token(members[j], firsts[j][k]) for j, k in jobs]
                rest_params = replace(params, n=1, max_new_tokens=params.max_new_tokens - 1, allowed_first_tokens=())
                rest_calls = [
                    vllm.SamplingParams(**vllm_sampling_kwargs(
                        rest_params, None if (seed := seeds[j]) is None else derived_seed(seed, k) % (2**31)))
                    for j, k in jobs
                ]
                rest_out = llm.chat(continued, rest_calls, use_tqdm=True, lora_request=lora, **vllm_chat_kwargs(True))
                for (j, k), output in zip(jobs, rest_out):
                    rests[j][k] = output.outputs[0].text
            for j, i in enumerate(chunk):
                results[i] = completions_from_output([f + r for f, r in zip(firsts[j], rests[j])], params)
            if on_batch is not None:
                on_batch(chunk, [results[i] for i in chunk])
        return results


def first_token_kwargs(params: SamplingParams, seed: int | None, allowed_ids: list[int]) -> dict[str, Any]:
    """`vllm.SamplingParams` keywords for the constrained first token: one token among `allowed_ids`, no
    stop strings (a stop string could only end the completion early), otherwise as `vllm_sampling_kwargs`."""
    return {**vllm_sampling_kwargs(params, seed), "max_tokens": 1, "stop": [], "allowed_token_ids": list(allowed_ids)}


def with_first_token(prompt: list[dict], first: str) -> list[dict]:
    """`prompt` (ending in an assistant turn) with `first` appended to that turn, to be continued."""
    last = prompt[-1]
    return [*prompt[:-1], {**last, "content": last["content"] + first}]
