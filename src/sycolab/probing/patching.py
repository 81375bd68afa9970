"""Activation patching: does the residual stream at one layer and position carry the pressure that moves
the answer?

For a pressured prompt (the user suggests a wrong answer or doubts the right one) and the neutral prompt
of the same question, the residual stream at layer L at the LAST token of the pressured prompt is
replaced by the neutral prompt's residual at its last token (Meng et al. 2022 "ROME"-style causal
tracing, here neutral -> pressured). The probe stage runs it at two positions, by what the prompts end with:
- "last": the rendered chat prompt (assistant turn opened), continuations "the answer is X .": the last
  prompt token, three tokens before the one that predicts the answer word;
- "answer": both prompts end with the assistant prefix "the answer is" (`samples.patch_prompts` with
  `answer_prefix`), continuations " X .": the token whose logits predict the answer word.
The effect is read off the logit gap toward the user's suggestion:

    gap = log p(suggested continuation | prompt) - log p(correct continuation | prompt)

summed over the continuation's tokens (e.g. "the answer is X ."; the shared words cancel). Per layer,

    share_removed = (mean gap_before - mean gap_after) / mean gap_before

over the patched prompts (ratio of means: a per-prompt ratio explodes where a gap is near 0). 1 means the
patch removes the whole pull toward the suggestion, 0 nothing; it is left empty when the mean gap before
patching is not positive (the model was not pulled toward the suggestion, so there is nothing to remove).

Inputs are rendered strings (chat prompt with the assistant prefix, and continuation texts), so this works
for any model and tokenizer. Patching a layer with the pressured prompt's own residual changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sycolab.generation.scoring import AroundForward, continuation_logprobs
from sycolab.probing._inputs import accepts_kwarg, batches, encode, encode_continuation, left_pad, model_device, pad_id
from sycolab.probing.activations import residuals_at
from sycolab.probing.hooks import forward_hooks


@dataclass(frozen=True)
class PatchPrompt:
    """One pressured prompt, the neutral prompt of the same question, and the two answer continuations."""

    pressured: str
    neutral: str
    suggested: str
    correct: str


@dataclass(frozen=True)
class PatchRow:
    layer: int
    n: int
    gap_before: float
    gap_after: float
    share_removed: float | None


def share_removed(gap_before: float, gap_after: float) -> float | None:
    """(gap_before - gap_after) / gap_before, None when gap_before is not positive."""
    if not np.isfinite(gap_before) or gap_before <= 0:
        return None
    return float((gap_before - gap_after) / gap_before)


def encode_pairs(tokenizer, prompts: Sequence[str], continuations: Sequence[str]) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, continuation ids) of each (prompt, continuation) pair."""
    return [encode_continuation(tokenizer, p, c) for p, c in zip(prompts, continuations, strict=True)]


def _replace_at(positions: Sequence[int], vectors: torch.Tensor):
    """A hook that sets row i's residual at `positions[i]` to `vectors[i]`."""
    rows = torch.arange(len(positions))
    cols = torch.as_tensor(list(positions))

    def replace(hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden.clone()
        hidden[rows.to(hidden.device), cols.to(hidden.device)] = vectors.to(device=hidden.device, dtype=hidden.dtype)
        return hidden

    return replace


def _patch_at_last_prompt_token(model, layer: int, vectors: torch.Tensor) -> AroundForward:
    """Around one batch's forward pass: the residual at `layer` at each row's last prompt token is set to
    the row's pair's vector (`vectors[pair index]`)."""

    def around(indices: list[int], last_prompt_token: list[int]):
        return forward_hooks(model, {layer: _replace_at(last_prompt_token, vectors[indices])})

    return around


def logit_gaps(
    model,
    tokenizer,
    items: Sequence[PatchPrompt],
    *,
    layer: int | None = None,
    patch: torch.Tensor | None = None,
    batch_size: int = 16,
    encoded: Sequence[tuple[list[int], list[int]]] | None = None,
) -> np.ndarray:
    """Per item: log p(suggested) - log p(correct) after the pressured prompt (patched when given).
    `encoded`: `gap_pairs(tokenizer, items)`, when the same items are scored several times."""
    pairs = list(encoded) if encoded is not None else gap_pairs(tokenizer, items)
    around = None if layer is None or patch is None else _patch_at_last_prompt_token(model, layer, torch.cat([patch, patch]))
    lp = np.asarray(continuation_logprobs(model, pairs, pad=pad_id(tokenizer), batch_size=batch_size,
                                          around_forward=around))
    return lp[: len(items)] - lp[len(items) :]


def _gap_texts(items: Sequence[PatchPrompt]) -> tuple[list[str], list[str]]:
    """The (prompt, continuation) pairs of `logit_gaps`: every pressured prompt with its suggested, then
    with its correct continuation."""
    return [it.pressured for it in items] * 2, [it.suggested for it in items] + [it.correct for it in items]


def gap_pairs(tokenizer, items: Sequence[PatchPrompt]) -> list[tuple[list[int], list[int]]]:
    """The token ids of `logit_gaps`'s pairs, encoded once for all layers."""
    return encode_pairs(tokenizer, *_gap_texts(items))


def last_token_residuals(
    model, tokenizer, texts: Sequence[str], layers: Sequence[int], batch_size: int = 16
) -> dict[int, torch.Tensor]:
    """Residual at the last token of each text, per layer: {layer: float32 [n, d]} (one pass per batch)."""
    token_ids = [encode(tokenizer, t) for t in texts]
    parts: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for chunk in batches(len(token_ids), batch_size):
        acts = residuals_at(model, token_ids[chunk.start : chunk.stop], layers, "last", pad_id(tokenizer))
        for layer in layers:
            parts[layer].append(acts[layer])
    return {layer: torch.cat(parts[layer]) for layer in layers}


def activation_patching(
    model, tokenizer, items: Sequence[PatchPrompt], layers: Sequence[int], batch_size: int = 16
) -> list[PatchRow]:
    """Patch neutral -> pressured at each layer in turn; one row per layer with the mean gaps and share removed.

    Every gap shares its prompt's tokens before the last one, which no patch at the last prompt token can
    change (causal attention): they run once per batch, kept as the key/value cache, and the unpatched and
    each layer's patched pass run only the last prompt token and the continuations (`_cached_gaps`; a few
    times fewer token positions). The cache is checked on the first batch: where its unpatched gaps differ
    from full forward passes' (`logit_gaps`) by more than `CACHE_TOLERANCE` (a model whose cache does not
    reproduce its full pass), every gap, before and after patching, comes from full passes instead."""
    if not items:
        return []
    encoded = gap_pairs(tokenizer, items)
    neutral = last_token_residuals(model, tokenizer, [it.neutral for it in items], layers, batch_size)
    cached = _cached_gaps(model, encoded, layers, neutral, pad_id(tokenizer), batch_size)
    check = min(len(items), batch_size)  # the cache is checked on one batch of full passes
    if cached is not None:
        full = logit_gaps(model, tokenizer, items[:check], batch_size=batch_size,
                          encoded=encoded[:check] + encoded[len(items) : len(items) + check])
        if not np.all(np.abs(cached[None][:check] - full) <= CACHE_TOLERANCE * np.maximum(1.0, np.abs(full))):
            cached = None
    if cached is not None:
        before, after = cached[None], {layer: cached[layer] for layer in layers}
    else:
        before = logit_gaps(model, tokenizer, items, batch_size=batch_size, encoded=encoded)
        after = {layer: logit_gaps(model, tokenizer, items, layer=layer, patch=neutral[layer], batch_size=batch_size,
                                   encoded=encoded) for layer in layers}
    gb = float(before.mean())
    return [PatchRow(layer, len(items), gb, float(after[layer].mean()), share_removed(gb, float(after[layer].mean())))
            for layer in layers]


CACHE_TOLERANCE = 1e-3  # nats, relative beyond a gap of 1 nat: float rounding of a cached vs a full pass


@torch.inference_mode()
def _cached_gaps(
    model, encoded: Sequence[tuple[list[int], list[int]]], layers: Sequence[int], neutral: dict[int, torch.Tensor],
    pad: int, batch_size: int,
) -> dict[int | None, np.ndarray] | None:
    """`logit_gaps` unpatched (key None) and patched at each layer with `neutral[layer]`, from one pass over
    the prompts' tokens before the last one (cached), and per layer a pass over the last prompt token and
    the continuations. `encoded`: `gap_pairs`' 2n pairs (suggested, then correct continuations). None when
    the two pairs of an item do not share a prompt of at least 2 tokens, or the model returns no cache."""
    n = len(encoded) // 2
    if any(encoded[i][0] != encoded[n + i][0] or len(encoded[i][0]) < 2 for i in range(n)):
        return None
    device = model_device(model)
    keep_one = {"logits_to_keep": 1} if accepts_kwarg(model, "logits_to_keep") else {}
    cache_name = "cache" if accepts_kwarg(model, "cache") else "past_key_values"  # transformers >= 5.x renamed it
    gaps: dict[int | None, np.ndarray] = {variant: np.empty(n) for variant in [None, *layers]}
    for chunk in batches(n, batch_size):
        pairs = [encoded[i] for i in chunk] + [encoded[n + i] for i in chunk]  # suggested rows, then correct rows
        # an item's two rows share their prompt: its tokens before the last run once, the cache is then doubled
        ids, mask, positions = left_pad([encoded[i][0][:-1] for i in chunk], pad, device)
        cache = getattr(model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **keep_one),
                        cache_name, None)
        if cache is None or not hasattr(cache, "reorder_cache"):
            return None
        both = torch.arange(len(chunk), device=device).repeat(2)
        cache.reorder_cache(both)
        mask = mask[both]
        tails = [[prompt[-1], *cont] for prompt, cont in pairs]
        width = max(len(t) for t in tails)
        tail_ids = torch.full((len(pairs), width), pad, dtype=torch.long)
        tail_mask = torch.zeros((len(pairs), width), dtype=mask.dtype)
        for r, tokens in enumerate(tails):
            tail_ids[r, : len(tokens)] = torch.as_tensor(tokens)
            tail_mask[r, : len(tokens)] = 1
        tail_positions = mask.sum(1, keepdim=True) + torch.arange(width, device=device)[None, :]
        attention = torch.cat([mask, tail_mask.to(device)], dim=1)
        item_of_row = torch.as_tensor([*chunk, *chunk])
        for variant in gaps:
            hooks = {} if variant is None else {variant: _replace_at([0] * len(pairs), neutral[variant][item_of_row])}
            with forward_hooks(model, hooks):
                logits = model(input_ids=tail_ids.to(device), attention_mask=attention, position_ids=tail_positions,
                               use_cache=True, **{cache_name: copy.deepcopy(cache)}).logits
            logprobs = logits.float().log_softmax(-1)
            summed = np.array([float(logprobs[r, torch.arange(len(cont)), torch.as_tensor(cont)].sum())
                               for r, (_, cont) in enumerate(pairs)])
            gaps[variant][chunk.start : chunk.stop] = summed[: len(chunk)] - summed[len(chunk) :]
    return gaps
