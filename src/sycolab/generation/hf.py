"""Batched generation with transformers' `model.generate` (the default backend).

Prompts are rendered with the chat template, tokenized, sorted by length (longest first, so padding is
small and an out-of-memory error shows up in the first batch), left-padded into batches of `batch_size`
and decoded with the KV cache. Greedy when `temperature == 0`; otherwise sampling with `temperature`,
`top_p` and `top_k` only (the model's own generation defaults such as its top_k or repetition_penalty are
overridden so that the same `SamplingParams` mean the same thing on every backend). `allowed_first_tokens`
becomes a `FirstTokenConstraint` logits processor. `n` samples per prompt come from
`num_return_sequences`. Each batch samples under its own seed derived from `params.seed` and the batch
index, so a call is reproducible given the same prompts, params and batch size; it is not invariant to how
prompts are grouped into batches. Works with PEFT-wrapped models.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, cast

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from sycolab.errors import UserError
from sycolab.generation._torch_utils import (
    derived_seed,
    end_token_ids,
    eval_mode,
    left_pad,
    model_device,
    seeded_rng,
)
from sycolab.generation.base import BatchCallback, SamplingParams
from sycolab.generation.chat import postprocess_completion, render_prompt, strip_think
from sycolab.generation.first_token import FirstTokenConstraint, first_token_ids

if TYPE_CHECKING:
    from sycolab.models.load import CausalLM


class _StopOnStrings(StoppingCriteria):
    """Marks a row done once its new text (reasoning stripped) contains a stop string."""

    def __init__(self, tokenizer: Any, stop: tuple[str, ...], prompt_width: int):
        self.tokenizer, self.stop, self.prompt_width = tokenizer, stop, prompt_width

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width:], skip_special_tokens=True)
        done = [any(s in strip_think(t) for s in self.stop) for t in texts]
        return cast(torch.BoolTensor, torch.tensor(done, dtype=torch.bool, device=input_ids.device))


class HFBackend:
    """`GenerationBackend` over a loaded transformers (or PEFT) causal LM and its tokenizer."""

    def __init__(
        self,
        model: CausalLM,
        tokenizer: Any,
        model_id: str,
        *,
        batch_size: int = 64,
        progress: bool | None = None,
    ):
        if batch_size < 1:
            raise UserError(f"batch_size: expected an integer >= 1, got {batch_size}")
        if getattr(tokenizer, "chat_template", None) is None:
            raise UserError(
                f"{model_id}: the tokenizer has no chat_template; generation needs one to render chat prompts"
            )
        self.model, self.tokenizer, self.model_id = model, tokenizer, model_id
        self.batch_size = batch_size
        self.progress = progress
        self._end_ids = end_token_ids(model, tokenizer)
        if not self._end_ids:
            raise UserError(f"{model_id}: neither the model nor the tokenizer defines an eos token to end completions")
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self._end_ids[0]

    def render_prompt(self, messages: list[dict]) -> str:
        """The exact prompt text the model is given (used as the generation-cache key)."""
        return render_prompt(self.tokenizer, messages)

    def generate(
        self, prompts: list[list[dict]], params: SamplingParams, on_batch: BatchCallback | None = None
    ) -> list[list[str]]:
        if not prompts:
            return []
        texts = [self.render_prompt(p) for p in prompts]
        token_ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        order = sorted(range(len(prompts)), key=lambda i: -len(token_ids[i]))
        results: list[list[str]] = [[] for _ in prompts]
        device = model_device(self.model)
        disable = None if self.progress is None else not self.progress
        with eval_mode(self.model), torch.no_grad(), tqdm(
            total=len(prompts), desc=f"generate {self.model_id}", unit="prompt", disable=disable
        ) as bar:
            for batch_index, start in enumerate(range(0, len(order), self.batch_size)):
                indices = order[start:start + self.batch_size]
                completions = self._generate_batch([token_ids[i] for i in indices], params, batch_index, device)
                for i, c in zip(indices, completions):
                    results[i] = c
                if on_batch is not None:
                    on_batch(indices, completions)
                bar.update(len(indices))
        return results

    def _generate_batch(
        self, batch: list[list[int]], params: SamplingParams, batch_index: int, device: torch.device
    ) -> list[list[str]]:
        input_ids, attention_mask, _ = left_pad(batch, self._pad_id, device)
        width = input_ids.shape[1]
        sampled = not params.greedy
        per_prompt = params.n if sampled else 1
        config = GenerationConfig(
            max_new_tokens=params.max_new_tokens,
            do_sample=sampled,
            num_beams=1,
            num_return_sequences=per_prompt,
            eos_token_id=self._end_ids,
            pad_token_id=self._pad_id,
            use_cache=True,
            **self._sampling_overrides(params),
        )
        stopping = StoppingCriteriaList([_StopOnStrings(self.tokenizer, params.stop, width)] if params.stop else [])
        allowed = first_token_ids(self.tokenizer, params.allowed_first_tokens, self.model_id)
        processors = LogitsProcessorList([FirstTokenConstraint(allowed, width)] if allowed else [])
        rng = seeded_rng(derived_seed(params.seed, batch_index), device) if sampled else contextlib.nullcontext()
        with rng:
            output = self.model.generate(
                input_ids=input_ids, attention_mask=attention_mask, generation_config=config,
                stopping_criteria=stopping, logits_processor=processors,
            )
        new_tokens = [self._until_end(row) for row in output[:, width:].tolist()]
        decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        cleaned = [postprocess_completion(t, params.stop) for t in decoded]
        if sampled:
            return [cleaned[k * per_prompt:(k + 1) * per_prompt] for k in range(len(batch))]
        return [[c] * params.n for c in cleaned]

    def _sampling_overrides(self, params: SamplingParams) -> dict[str, Any]:
        """Explicit values for every sampling knob, so the model's generation_config.json defaults (e.g.
        Qwen3's top_k=20, temperature=0.6) never apply; greedy gets the neutral values generate expects."""
        neutral = {"repetition_penalty": 1.0, "typical_p": 1.0}
        if params.greedy:
            return {**neutral, "temperature": 1.0, "top_p": 1.0, "top_k": 50}
        overrides = {**neutral, "temperature": params.temperature, "top_p": params.top_p, "top_k": params.top_k}
        if getattr(getattr(self.model, "generation_config", None), "min_p", None) is not None:
            overrides["min_p"] = 0.0
        return overrides

    def _until_end(self, row: list[int]) -> list[int]:
        for pos, token in enumerate(row):
            if token in self._end_ids:
                return row[:pos]
        return row
