"""Training methods register themselves by name, so configs can name them (`recover: {dpo: {...}}`).

A method is a small module: a pydantic config class and a `run(ctx)` function that reads its input model
from the run store and writes its output model there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel


@dataclass
class MethodContext:
    """Everything a method's `run` needs; built by the study pipeline (or a test)."""

    name: str                       # model name in the store, e.g. "ipo[beta=0.5,lr=5e-06]"
    config: BaseModel               # the method's validated config (one sweep cell)
    input_model: Path               # model folder to start from (base for sft, sft for recovery)
    output_dir: Path                # write the final model here (save_pretrained + tokenizer)
    work_dir: Path                  # checkpoints, diagnostics (training/<name>/)
    data: dict[str, Path]           # named data files: "sft", "preference", "preference_heldout", "grpo_prompts", "proxy"
    seed: int = 0
    reference_model: Path | None = None        # frozen reference (the SFT model) where the method has one
    extra_models: dict[str, Path] = field(default_factory=dict)  # e.g. {"reward_model": path} for grpo
    dtype: str = "float32"
    trust_remote_code: bool = False
    attn_implementation: str | None = None      # None: transformers' default (sdpa); the tiny model trains faster eager
    report_to: list[str] = field(default_factory=lambda: ["none"])
    use_cpu: bool = True
    # checkpoint evaluation (`checkpoint.eval_every`): the evaluation sets ("answer", "are_you_sure", "feedback",
    # and the world's "world"/"proxy" files), the study's evaluate section as a dict, and the run's cache folder
    evaluation_data: dict[str, Path] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None
    cache_dir: Path | None = None


@dataclass(frozen=True)
class MethodSpec:
    name: str
    config_cls: type[BaseModel]
    run: Callable[[MethodContext], Any]
    needs: tuple[str, ...] = ()     # other methods whose output this one consumes (grpo needs reward_model)
    produces_causal_lm: bool = True  # False for the reward model (a scalar head, not evaluated)
    description: str = ""


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(
    name: str, config: type[BaseModel], needs: tuple[str, ...] = (), produces_causal_lm: bool = True
) -> Callable[[Callable[[MethodContext], Any]], Callable[[MethodContext], Any]]:
    """Decorator: `@register_method("dpo", config=DPOMethodConfig)` on the method's `run`."""

    def decorate(run: Callable[[MethodContext], Any]) -> Callable[[MethodContext], Any]:
        if name in _REGISTRY and _REGISTRY[name].run is not run:
            raise ValueError(f"method '{name}' registered twice")
        _REGISTRY[name] = MethodSpec(name, config, run, needs, produces_causal_lm, (run.__doc__ or "").strip())
        return run

    return decorate


def get_method(name: str) -> MethodSpec:
    _load_builtin_methods()
    if name not in _REGISTRY:
        raise KeyError(name)
    return _REGISTRY[name]


def method_names() -> list[str]:
    _load_builtin_methods()
    return sorted(_REGISTRY)


def _load_builtin_methods() -> None:
    import importlib
    import pkgutil

    import sycolab.methods as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_") and info.name not in ("registry", "common"):
            importlib.import_module(f"sycolab.methods.{info.name}")
