"""Residual-stream activations at a prompt position, for every layer, streamed to float16 .npy files.

One forward pass per batch gives every layer (`output_hidden_states=True`): `embed` is `hidden_states[0]`
and `blocks.{L}.hook_resid_post` is `hidden_states[L + 1]`. Hugging Face replaces the last entry of
`hidden_states` by the output of the final norm; the residual stream of the last decoder layer is taken,
in the same forward pass, from the layer's own output (a hook), so that every layer is the un-normalised
residual stream, the space that steering and patching hooks edit.

Position "answer" (`extract_activations(..., position="answer", answer_prefix=...)`) is the last token of
the prompt with the assistant's answer prefix appended as an open turn (`_inputs.with_answer_prefix`,
e.g. "the answer is"): the token whose logits predict the answer word.

Prompts are left-padded (the last prompt token is at index -1 in every row), position ids count real
tokens only, and the attention mask keeps padding out, so a batched row equals the prompt run alone.

On disk (`probe/activations/<model>/<position>/`, written by the probe stage): `layer_{L}.npy` float16 `[n_prompts, d_model]` (L = -1 for
`embed`), `ids.json` (sample ids in row order) and `meta.json` (layers, names, position, answer prefix, throughput).
Rows are written batch by batch into preallocated `np.lib.format.open_memmap` arrays, so memory stays at
one batch whatever the number of prompts and layers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from sycolab.errors import StageError, UserError
from sycolab.io import atomic_dir, atomic_write_json, read_json
from sycolab.probing._inputs import (
    Messages,
    accepts_kwarg,
    batches,
    left_pad,
    model_device,
    pad_id,
    render_prompt,
    with_answer_prefix,
)
from sycolab.probing.config import ANSWER
from sycolab.probing.hooks import capture_residuals, hook_name, num_layers

Position = str | int
FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass(frozen=True)
class ActivationInfo:
    """What an extraction wrote: where, which layers, how many prompts, and how fast."""

    folder: str
    layers: list[int]
    n_prompts: int
    d_model: int
    position: Position
    seconds: float
    prompts_per_s: float
    n_clipped: int  # values beyond the float16 range, saturated to +-65504
    answer_prefix: str | None = None  # position "answer": the appended assistant prefix

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_layers(model, layers: Literal["all"] | Sequence[int]) -> list[int]:
    """`"all"` -> [-1, 0, ..., n_layers - 1]; a list is checked against the model and sorted."""
    n = num_layers(model)
    if isinstance(layers, str):  # "all", the one string the config allows
        return list(range(-1, n))
    bad = [layer for layer in layers if not -1 <= layer < n]
    if bad:
        raise UserError(f"probe.layers: {bad} out of range; the model has decoder layers 0..{n - 1} (and -1 = embed)")
    return sorted(set(layers))


def layer_file(folder: str | Path, layer: int) -> Path:
    return Path(folder) / f"layer_{layer}.npy"


def _select(hidden: torch.Tensor, mask: torch.Tensor, position: Position) -> torch.Tensor:
    """[batch, pos, d] -> [batch, d] at `position` of left-padded rows."""
    if position == "last":
        return hidden[:, -1]
    if position == "mean":
        keep = mask.bool().unsqueeze(-1)
        total = torch.where(keep, hidden.float(), torch.zeros((), device=hidden.device)).sum(1)
        return total / keep.sum(1).clamp(min=1)
    if isinstance(position, int) and position < 0:
        return hidden[:, position]
    raise UserError(f'position must be "last", "mean" or a negative int, got {position!r}')


def _check_position(lengths: Sequence[int], position: Position) -> None:
    if isinstance(position, int) and lengths and min(lengths) < -position:
        raise UserError(f"position {position} is before the start of a prompt of {min(lengths)} tokens")


@torch.inference_mode()
def residuals_at(
    model, token_ids: Sequence[Sequence[int]], layers: Sequence[int], position: Position = "last", pad: int = 0
) -> dict[int, torch.Tensor]:
    """Residual stream at `position` for each layer from ONE forward pass: {layer: float32 [batch, d] on CPU}."""
    _check_position([len(s) for s in token_ids], position)
    ids, mask, positions = left_pad(token_ids, pad, model_device(model))
    n = num_layers(model)
    kwargs = {"logits_to_keep": 1} if accepts_kwarg(model, "logits_to_keep") else {}
    last = [n - 1] if n - 1 in layers else []
    with capture_residuals(model, last) as captured:
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            output_hidden_states=True,
            use_cache=False,
            **kwargs,
        )
    hidden_states = out.hidden_states
    if len(hidden_states) != n + 1:
        raise StageError(f"expected {n + 1} hidden states (embeddings + {n} layers), got {len(hidden_states)}")
    result = {}
    for layer in layers:
        hidden = captured[layer] if layer == n - 1 else hidden_states[layer + 1]
        result[layer] = _select(hidden, mask, position).float().cpu()
    return result


def extract_activations(
    model,
    tokenizer,
    prompts: Sequence[Messages],
    ids: Sequence[str],
    out_dir: str | Path,
    *,
    layers: Literal["all"] | Sequence[int] = "all",
    position: Position = "last",
    batch_size: int = 16,
    answer_prefix: str | None = None,
) -> ActivationInfo:
    """Render `prompts` (chat messages) with the chat template, run them in batches and write every layer.

    `position="answer"` appends `answer_prefix` as the assistant's open turn and takes its last token.
    Prompts are batched in order of token length (less padding); each row lands at its prompt's index.
    The folder is replaced whole, only on success.
    """
    if len(prompts) != len(ids):
        raise UserError(f"{len(prompts)} prompts but {len(ids)} ids")
    if not prompts:
        raise UserError("no prompts to extract activations for")
    select: Position = position
    if position == ANSWER:
        if not answer_prefix:
            raise UserError('position "answer" needs the answer_prefix that precedes the answer word')
        prompts, select = [with_answer_prefix(m, answer_prefix) for m in prompts], "last"
    else:
        answer_prefix = None
    layer_list = resolve_layers(model, layers)
    start = time.perf_counter()
    texts = [render_prompt(tokenizer, messages) for messages in prompts]
    token_ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    _check_position([len(t) for t in token_ids], select)
    order = np.argsort([-len(t) for t in token_ids], kind="stable")
    pad = pad_id(tokenizer)
    arrays: dict[int, np.memmap] = {}
    n_clipped = 0
    with atomic_dir(out_dir) as tmp:
        for chunk in batches(len(order), batch_size):
            rows = order[chunk.start : chunk.stop]
            acts = residuals_at(model, [token_ids[i] for i in rows], layer_list, select, pad)
            for layer, tensor in acts.items():
                values = tensor.numpy()
                if not np.isfinite(values).all():
                    raise StageError(f"non-finite activations at {hook_name(layer)} (model output is broken)")
                if layer not in arrays:
                    arrays[layer] = np.lib.format.open_memmap(
                        layer_file(tmp, layer), mode="w+", dtype=np.float16, shape=(len(prompts), values.shape[1])
                    )
                n_clipped += int((np.abs(values) > FLOAT16_MAX).sum())
                arrays[layer][rows] = np.clip(values, -FLOAT16_MAX, FLOAT16_MAX)
        d_model = next(iter(arrays.values())).shape[1]
        for array in arrays.values():
            array.flush()
        arrays.clear()
        seconds = time.perf_counter() - start
        info = ActivationInfo(
            folder=str(Path(out_dir)),
            layers=layer_list,
            n_prompts=len(prompts),
            d_model=int(d_model),
            position=position,
            seconds=round(seconds, 4),
            prompts_per_s=round(len(prompts) / max(seconds, 1e-9), 2),
            n_clipped=n_clipped,
            answer_prefix=answer_prefix,
        )
        atomic_write_json(tmp / "ids.json", list(ids))
        atomic_write_json(
            tmp / "meta.json", {**info.to_dict(), "names": {str(layer): hook_name(layer) for layer in layer_list}}
        )
    return info


def read_activation_info(folder: str | Path) -> ActivationInfo:
    meta = read_json(Path(folder) / "meta.json")
    meta.pop("names", None)
    meta["folder"] = str(Path(folder))
    return ActivationInfo(**meta)


def read_ids(folder: str | Path) -> list[str]:
    return list(read_json(Path(folder) / "ids.json"))


def load_activations(folder: str | Path, layer: int) -> np.ndarray:
    """The float16 `[n_prompts, d_model]` array of one layer, memory-mapped read-only."""
    path = layer_file(folder, layer)
    if not path.exists():
        raise UserError(f"{path}: no activations for layer {layer} ({hook_name(layer)}); extract them first")
    return np.load(path, mmap_mode="r")
