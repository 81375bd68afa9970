"""A local transformers chat model: render the chat template, generate, decode. Shared by the
`sycolab serve` endpoint and the local `hf` judge.

Prompts are rendered by the toolkit's one chat renderer (`sycolab.generation.chat.render_prompt`): a
conversation whose last message is an assistant turn is continued, otherwise a generation prompt is added;
Qwen3 thinking is off unless a request's `chat_template_kwargs` turns it on. Generation is greedy at temperature 0, sampled otherwise.
Not thread-safe: callers serialise access (the server holds a lock around `chat`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sycolab.generation._torch_utils import left_pad, pad_id
from sycolab.generation.chat import render_prompt


class PromptTooLong(ValueError):
    """A rendered prompt longer than the caller's `max_prompt_tokens` (nothing was generated)."""


@dataclass(frozen=True)
class ChatCompletion:
    """One generated reply: text (special tokens removed, cut at the first stop string), token counts,
    and why it ended ("stop": end-of-sequence token or a stop string; "length": max_new_tokens reached)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class LocalChatModel:
    """A causal LM and its tokenizer loaded with `sycolab.models.load.load_model_and_tokenizer`."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        name: str | None = None,
        dtype: str = "auto",
        device: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        from sycolab.models.load import default_device, load_model_and_tokenizer

        self.device = device or default_device()
        self.model, self.tokenizer = load_model_and_tokenizer(
            model_dir, dtype=dtype, trust_remote_code=trust_remote_code, device=self.device
        )
        self.name = name or Path(str(model_dir)).name
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            eos_ids.add(self.tokenizer.eos_token_id)
        self._eos_ids = eos_ids

    def render(self, messages: Sequence[Mapping[str, str]], chat_template_kwargs: Mapping[str, Any] | None = None) -> str:
        """The prompt text for a conversation, by the toolkit's one chat renderer (continued if it ends with
        an assistant turn; Qwen3 thinking off unless `chat_template_kwargs` turns it on)."""
        return render_prompt(self.tokenizer, [dict(m) for m in messages], chat_template_kwargs)

    @torch.inference_mode()
    def chat(
        self,
        conversations: Sequence[Sequence[Mapping[str, str]]],
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[str] = (),
        chat_template_kwargs: Mapping[str, Any] | None = None,
        max_prompt_tokens: int | None = None,
    ) -> list[ChatCompletion]:
        """Generate one reply per conversation, batched with left padding. A prompt longer than
        `max_prompt_tokens` raises PromptTooLong before any generation."""
        if not conversations:
            return []
        texts = [self.render(c, chat_template_kwargs) for c in conversations]
        token_ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        if max_prompt_tokens is not None:
            longest = max(len(ids) for ids in token_ids)
            if longest > max_prompt_tokens:
                raise PromptTooLong(f"the prompt is {longest} tokens, over the limit of {max_prompt_tokens}")
        pad = pad_id(self.tokenizer)
        input_ids, attention_mask, _ = left_pad(token_ids, pad, torch.device(self.device))
        kwargs: dict[str, Any] = {"max_new_tokens": int(max_new_tokens), "pad_token_id": pad}
        if self._eos_ids:
            kwargs["eos_token_id"] = sorted(self._eos_ids)
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=float(temperature), top_p=float(top_p))
            if seed is not None:
                torch.manual_seed(int(seed))
        else:
            kwargs.update(do_sample=False)
        out = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        new_tokens = out[:, input_ids.shape[1] :].tolist()
        return [self._completion(row, len(ids), stop) for row, ids in zip(new_tokens, token_ids)]

    def _completion(self, row: list[int], prompt_tokens: int, stop: Sequence[str]) -> ChatCompletion:
        ended = next((i for i, t in enumerate(row) if t in self._eos_ids), None)
        kept = row if ended is None else row[:ended]
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        assert isinstance(text, str)  # one sequence decodes to one string
        finish = "length" if ended is None else "stop"
        cuts = [text.find(s) for s in stop if s and s in text]
        if cuts:
            text, finish = text[: min(cuts)], "stop"
        return ChatCompletion(text, prompt_tokens, len(kept) + (ended is not None), finish)
