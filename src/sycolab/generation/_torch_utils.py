"""Small torch helpers shared by every forward pass: the HF backend, continuation log-probs and probing."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
from collections.abc import Iterator, Sequence
from typing import Any

import torch


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Put `model` in eval mode (no dropout) and restore its previous training flag afterwards, even on error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_device(model: torch.nn.Module) -> torch.device:
    """Device of the model's first parameter (works for PEFT wrappers too); CPU for a model without any."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def pad_id(tokenizer: Any) -> int:
    """The id padding is filled with: the tokenizer's pad token, else its eos token, else 0. Padded
    positions are masked out, so the choice never changes a real token's result."""
    for value in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if value is not None:
            return int(value)
    return 0


def left_pad(
    sequences: Sequence[Sequence[int]], pad: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-pad token id lists: (input_ids, attention_mask, position_ids), each [batch, max_len].

    The one padding helper of every forward pass (generation, continuation log-probs, activation reads).
    Every row's last token is at index -1; position ids count real tokens only (0 at each row's first real
    token), so a padded row is computed as the same sequence alone would be.
    """
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            ids[row, width - len(seq):] = torch.as_tensor(list(seq), dtype=torch.long)
            mask[row, width - len(seq):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


def batches(n: int, size: int) -> list[range]:
    """Consecutive index ranges of at most `size` covering 0 .. n - 1."""
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def accepts_kwarg(model: torch.nn.Module, name: str) -> bool:
    """Whether the model's forward (the Hugging Face model's, inside a PEFT wrapper) takes keyword `name`
    (e.g. `logits_to_keep`)."""
    get_base = getattr(model, "get_base_model", None)
    base = get_base() if callable(get_base) else model
    try:
        return name in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


def end_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Token ids that end a completion: the model's generation eos ids, the tokenizer's eos, and ChatML's
    `<|im_end|>` when the vocabulary has it."""
    ids: list[int] = []
    config = getattr(model, "generation_config", None)
    configured = getattr(config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.append(configured)
    elif configured:
        ids.extend(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    if "<|im_end|>" in vocab:
        ids.append(int(vocab["<|im_end|>"]))
    return list(dict.fromkeys(ids))


def derived_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed derived from `seed` and `parts` (e.g. a batch index), stable across runs and machines."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


@contextlib.contextmanager
def seeded_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's RNG (CPU and the model's CUDA device) for the block, restoring the caller's RNG state after."""
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
