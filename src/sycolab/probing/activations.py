"""Residual-stream activations at a prompt position, for every layer, streamed to float16 .npy files.

One forward pass per batch gives every layer (`output_hidden_states=True`): `embed` is `hidden_states[0]`
and `blocks.{L}.hook_resid_post` is `hidden_states[L + 1]`. Hugging Face replaces the last entry of
`hidden_states` by the output of the final norm; the residual stream of the last decoder layer is taken,
in the same forward pass, from the layer's own output (a hook), so that every layer is the un-normalised
residual stream, the space that steering and patching hooks edit.

Position "answer" (`extract_activations(..., position="answer", answer_prefix=...)`) is the last token of
the prompt with the assistant's answer prefix appended as an open turn (`_inputs.with_answer_prefix`,
e.g. "the answer is"): the token whose logits predict the answer word. The probe stage extracts every
position from one pass (`extract_positions`): the rendered prompt's tokens are the first tokens of the
answer-prefixed prompt, and a causal model's residual at a token does not depend on later tokens, so the
prompt's positions are read off the answer-prefixed pass (equal up to float rounding to a pass of their own).

Prompts are left-padded (the last prompt token is at index -1 in every row), position ids count real
tokens only, and the attention mask keeps padding out, so a batched row equals the prompt run alone.

On disk (`probe/activations/<model>/<position>/`, written by the probe stage): `layer_{L}.npy` float16 `[n_prompts, d_model]` (L = -1 for
`embed`), `ids.json` (sample ids in row order) and `meta.json` (layers, names, position, answer prefix, throughput).
Rows are written batch by batch into preallocated `np.lib.format.open_memmap` arrays, so memory stays at
one batch whatever the number of prompts and layers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
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


def _select(hidden: torch.Tensor, mask: torch.Tensor, position: Position, tail: torch.Tensor | None = None) -> torch.Tensor:
    """[batch, pos, d] -> [batch, d] at `position` of left-padded rows, counted within each row's first
    tokens: row i's last `tail[i]` tokens (default none) are an appended continuation, not the prompt."""
    if tail is None:
        tail = torch.zeros(hidden.shape[0], dtype=torch.long, device=hidden.device)
    end = hidden.shape[1] - tail.to(hidden.device)  # one past each row's prompt
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    if position == "last":
        return hidden[rows, end - 1]
    if position == "mean":
        columns = torch.arange(hidden.shape[1], device=hidden.device)
        keep = (mask.bool() & (columns[None, :] < end[:, None])).unsqueeze(-1)
        total = torch.where(keep, hidden.float(), torch.zeros((), device=hidden.device)).sum(1)
        return total / keep.sum(1).clamp(min=1)
    if isinstance(position, int) and position < 0:
        return hidden[rows, end + position]
    raise UserError(f'position must be "last", "mean" or a negative int, got {position!r}')


def _check_position(lengths: Sequence[int], position: Position) -> None:
    if isinstance(position, int) and lengths and min(lengths) < -position:
        raise UserError(f"position {position} is before the start of a prompt of {min(lengths)} tokens")


@torch.inference_mode()
def _hidden_states(
    model, token_ids: Sequence[Sequence[int]], layers: Sequence[int], pad: int
) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    """({layer: [batch, pos, d] residual stream}, attention mask) of left-padded `token_ids`, one forward pass."""
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
    return {layer: captured[layer] if layer == n - 1 else hidden_states[layer + 1] for layer in layers}, mask


@torch.inference_mode()
def residuals_at(
    model, token_ids: Sequence[Sequence[int]], layers: Sequence[int], position: Position = "last", pad: int = 0
) -> dict[int, torch.Tensor]:
    """Residual stream at `position` for each layer from ONE forward pass: {layer: float32 [batch, d] on CPU}."""
    _check_position([len(s) for s in token_ids], position)
    hidden, mask = _hidden_states(model, token_ids, layers, pad)
    return {layer: _select(h, mask, position).float().cpu() for layer, h in hidden.items()}


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
    return extract_positions(model, tokenizer, prompts, ids, {position: out_dir}, layers=layers,
                             batch_size=batch_size, answer_prefix=answer_prefix)[position]


@dataclass(frozen=True)
class _Pass:
    """Token ids run through the model, and what each position reads off them: (position to select,
    trailing tokens per prompt that are not part of that position's prompt)."""

    token_ids: list[list[int]]
    reads: dict[Position, tuple[Position, np.ndarray]]


def extract_positions(
    model,
    tokenizer,
    prompts: Sequence[Messages],
    ids: Sequence[str],
    folders: Mapping[Position, str | Path],
    *,
    layers: Literal["all"] | Sequence[int] = "all",
    batch_size: int = 16,
    answer_prefix: str | None = None,
) -> dict[Position, ActivationInfo]:
    """`extract_activations` for each position of `folders` ({position: folder}), from as few forward passes
    as the prompts allow: when every prompt's tokens are the first tokens of its answer-prefixed prompt (as a
    chat template renders an open assistant turn), one pass over the answer-prefixed prompts serves the
    answer position and every other position (a causal model's residual at a token does not depend on the
    tokens after it); otherwise the answer position gets a pass of its own."""
    if len(prompts) != len(ids):
        raise UserError(f"{len(prompts)} prompts but {len(ids)} ids")
    if not prompts:
        raise UserError("no prompts to extract activations for")
    if ANSWER in folders and not answer_prefix:
        raise UserError('position "answer" needs the answer_prefix that precedes the answer word')
    layer_list = resolve_layers(model, layers)
    start = time.perf_counter()
    passes = _passes(tokenizer, prompts, list(folders), answer_prefix)
    pad = pad_id(tokenizer)
    infos: dict[Position, ActivationInfo] = {}
    with contextlib.ExitStack() as stack:
        tmp = {position: stack.enter_context(atomic_dir(folder)) for position, folder in folders.items()}
        writers = {position: _LayerWriter(tmp[position], len(prompts)) for position in folders}
        for run in passes:
            order = np.argsort([-len(t) for t in run.token_ids], kind="stable")
            for chunk in batches(len(order), batch_size):
                rows = order[chunk.start : chunk.stop]
                hidden, mask = _hidden_states(model, [run.token_ids[i] for i in rows], layer_list, pad)
                for position, (select, tail) in run.reads.items():
                    for layer, states in hidden.items():
                        tails = torch.as_tensor(tail[rows], dtype=torch.long)
                        writers[position].write(layer, rows, _select(states, mask, select, tails).float().cpu().numpy())
        seconds = time.perf_counter() - start
        for position, folder in folders.items():
            writer = writers[position]
            writer.close()
            info = ActivationInfo(
                folder=str(Path(folder)),
                layers=layer_list,
                n_prompts=len(prompts),
                d_model=writer.d_model,
                position=position,
                seconds=round(seconds, 4),
                prompts_per_s=round(len(prompts) / max(seconds, 1e-9), 2),
                n_clipped=writer.n_clipped,
                answer_prefix=answer_prefix if position == ANSWER else None,
            )
            atomic_write_json(tmp[position] / "ids.json", list(ids))
            atomic_write_json(tmp[position] / "meta.json",
                              {**info.to_dict(), "names": {str(layer): hook_name(layer) for layer in layer_list}})
            infos[position] = info
    return infos


def _passes(tokenizer, prompts: Sequence[Messages], positions: Sequence[Position], prefix: str | None) -> list[_Pass]:
    """The forward passes of `extract_positions`: one when the plain prompts' tokens start the
    answer-prefixed ones (or only one kind is asked for), else one per kind."""
    def tokens(messages: Sequence[Messages]) -> list[list[int]]:
        return [list(t) for t in tokenizer([render_prompt(tokenizer, m) for m in messages], add_special_tokens=False)["input_ids"]]

    plain = [p for p in positions if p != ANSWER]
    plain_ids = tokens(prompts) if plain else []
    for position in plain:
        _check_position([len(t) for t in plain_ids], position)
    none = np.zeros(len(prompts), dtype=np.int64)
    reads: dict[Position, tuple[Position, np.ndarray]] = {p: (p, none) for p in plain}
    if ANSWER not in positions:
        return [_Pass(plain_ids, reads)]
    answer_ids = tokens([with_answer_prefix(m, prefix or "") for m in prompts])
    if plain and all(len(a) > len(p) and a[: len(p)] == p for p, a in zip(plain_ids, answer_ids, strict=True)):
        tail = np.array([len(a) - len(p) for p, a in zip(plain_ids, answer_ids, strict=True)], dtype=np.int64)
        return [_Pass(answer_ids, {**{p: (p, tail) for p in plain}, ANSWER: ("last", none)})]
    return [*([_Pass(plain_ids, reads)] if plain else []), _Pass(answer_ids, {ANSWER: ("last", none)})]


class _LayerWriter:
    """Rows of every layer into preallocated float16 `layer_{L}.npy` memmaps of one folder, saturated to the
    float16 range (counted); non-finite values are an error."""

    def __init__(self, folder: Path, n_rows: int):
        self.folder, self.n_rows = folder, n_rows
        self.arrays: dict[int, np.memmap] = {}
        self.n_clipped = 0
        self.d_model = 0

    def write(self, layer: int, rows: np.ndarray, values: np.ndarray) -> None:
        if not np.isfinite(values).all():
            raise StageError(f"non-finite activations at {hook_name(layer)} (model output is broken)")
        if layer not in self.arrays:
            self.arrays[layer] = np.lib.format.open_memmap(
                layer_file(self.folder, layer), mode="w+", dtype=np.float16, shape=(self.n_rows, values.shape[1])
            )
            self.d_model = int(values.shape[1])
        self.n_clipped += int((np.abs(values) > FLOAT16_MAX).sum())
        self.arrays[layer][rows] = np.clip(values, -FLOAT16_MAX, FLOAT16_MAX)

    def close(self) -> None:
        for array in self.arrays.values():
            array.flush()
        self.arrays.clear()


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
