"""The one place where forward hooks are attached to a model, and the hook points they attach to.

Hook points follow TransformerLens names (see docs/architecture.md): layer -1 is `embed` (the output of
the input embedding module, `hidden_states[0]` in Hugging Face terms) and layer L >= 0 is
`blocks.{L}.hook_resid_post`, the residual stream leaving decoder layer L (before the final norm, also for
the last layer). For models that scale embeddings inside the decoder (Gemma), `embed` is the unscaled
embedding output. A hook function receives that hidden tensor `[batch, pos, d_model]` and returns a
replacement tensor, or None to leave it unchanged.

Every hook goes through `forward_hooks`, which removes all of its hooks in `finally`, so a forward pass
that raises cannot leave a hook behind to corrupt the next evaluation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from sycolab.errors import UserError

if TYPE_CHECKING:
    from transformers import PreTrainedModel

HookFn = Callable[[torch.Tensor], "torch.Tensor | None"]

_LAYER_PATHS = (
    "model.layers",  # Llama, Qwen2/3, Mistral, Gemma
    "model.language_model.layers",  # multimodal wrappers
    "model.decoder.layers",  # OPT
    "transformer.h",  # GPT-2, GPT-J
    "gpt_neox.layers",  # Pythia
    "layers",  # a bare decoder
)


def unwrap(model: nn.Module) -> nn.Module:
    """The Hugging Face model inside a PEFT wrapper (`get_base_model()`), or the model itself."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder layers of a causal LM (`model.model.layers` and the usual alternatives), also through PEFT."""
    base = unwrap(model)
    for path in _LAYER_PATHS:
        obj: object = base
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList) and len(obj) > 0:
            return obj
    expected = getattr(getattr(base, "config", None), "num_hidden_layers", None)
    if expected:
        for module in base.modules():
            if isinstance(module, nn.ModuleList) and len(module) == expected:
                return module
    raise UserError(
        f"cannot find the decoder layers of {type(base).__name__}: looked for {', '.join(_LAYER_PATHS)} "
        "and for a ModuleList of config.num_hidden_layers modules"
    )


def num_layers(model: nn.Module) -> int:
    return len(decoder_layers(model))


def hook_point(model: nn.Module, layer: int) -> nn.Module:
    """The module whose output is the residual stream at `layer` (-1 = embeddings)."""
    if layer == -1:
        return cast("PreTrainedModel", unwrap(model)).get_input_embeddings()  # transformers' method, on any HF model
    layers = decoder_layers(model)
    if not 0 <= layer < len(layers):
        raise UserError(
            f"layer {layer} does not exist: the model has decoder layers 0..{len(layers) - 1} (and -1 = embed)"
        )
    return layers[layer]


def hook_name(layer: int) -> str:
    """TransformerLens-style activation name: `embed` or `blocks.{L}.hook_resid_post`."""
    return "embed" if layer == -1 else f"blocks.{layer}.hook_resid_post"


def _wrap(fn: HookFn) -> Callable:
    def hook(module: nn.Module, args: tuple, output):
        hidden = output[0] if isinstance(output, tuple) else output
        new = fn(hidden)
        if new is None:
            return None
        return (new, *output[1:]) if isinstance(output, tuple) else new

    return hook


@contextlib.contextmanager
def forward_hooks(
    model: nn.Module, hooks: Mapping[int, HookFn] | Sequence[tuple[int, HookFn]], *, first: bool = True
) -> Iterator[None]:
    """Attach `hooks` ({layer: fn} or [(layer, fn), ...]) for the duration of the block.

    Hooks at one point run in the order given. With `first` (for hooks that edit) they run before the hooks
    already on the module, so Hugging Face's own `output_hidden_states` capture sees the edited tensor;
    otherwise (for hooks that only read) after them, so they see every edit. All are removed on exit,
    also when the block or a hook raises.
    """
    items = list(hooks.items()) if isinstance(hooks, Mapping) else list(hooks)
    handles = []
    try:
        for layer, fn in reversed(items) if first else items:  # prepending in reverse keeps the given order
            handles.append(hook_point(model, layer).register_forward_hook(_wrap(fn), prepend=first))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def capture_residuals(model: nn.Module, layers: Sequence[int]) -> Iterator[dict[int, torch.Tensor]]:
    """Record the residual stream `[batch, pos, d_model]` at `layers` on every forward pass in the block.

    The yielded dict maps layer -> the tensor of the latest forward pass (detached), after any edit made
    by hooks attached with `forward_hooks(first=True)`.
    """
    captured: dict[int, torch.Tensor] = {}

    def recorder(layer: int) -> HookFn:
        def record(hidden: torch.Tensor) -> None:
            captured[layer] = hidden.detach()

        return record

    with forward_hooks(model, [(layer, recorder(layer)) for layer in layers], first=False):
        yield captured


def count_hooks(model: nn.Module) -> int:
    """Number of forward hooks on the hook points (embeddings and decoder layers); used by tests and checks."""
    modules = [hook_point(model, -1), *decoder_layers(model)]
    return sum(len(m._forward_hooks) for m in modules)
