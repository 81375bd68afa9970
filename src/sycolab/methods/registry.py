"""Training methods register themselves by name, so configs can name them (`recover: {dpo: {...}}`).

A method is a small module: a pydantic config class and a `run(ctx)` function that reads its input model
from the run store and writes its output model there. Its registration also says what the rest of sycolab
asks about it (`MethodTraits`, `needs`, `produces_causal_lm`), so nothing else restates it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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


Reference = Literal["ref", "ref (KL)", "free", "-"]
LossShape = Literal["saturating", "non-saturating", "-"]
DataRegime = Literal["offline", "online", "inference-time", "-"]


@dataclass(frozen=True)
class MethodTraits:
    """Where a method sits in the recovery framework of the reference study (the report's framework table);
    "-" where an axis does not apply (SFT, the reward model).

    - reference: "ref" keeps the policy near a frozen reference model through the log-ratio to it (DPO, IPO;
      the method is handed the SFT model as `ctx.reference_model`), "ref (KL)" through an explicit KL penalty
      (GRPO), "free" has no reference (SimPO, reference-free IPO, steering).
    - loss: "saturating" losses flatten once the margin is large (-log sigmoid(beta * margin) -> 0: DPO,
      SimPO), "non-saturating" ones keep pulling towards a target margin (IPO's (margin - 1/(2 beta))^2).
    - data: "offline" preference pairs, "online" generations scored during training (GRPO), or
      "inference-time" (steering changes no weights).
    """

    reference: Reference = "-"
    loss: LossShape = "-"
    data: DataRegime = "-"

    @property
    def compares_to_reference_model(self) -> bool:
        """True when the loss is a log-ratio against a frozen reference model."""
        return self.reference == "ref"


NOT_APPLICABLE = MethodTraits()


@dataclass(frozen=True)
class MethodSpec:
    name: str
    config_cls: type[BaseModel]
    run: Callable[[MethodContext], Any]
    needs: tuple[str, ...] = ()     # other methods whose output this one consumes (grpo needs reward_model)
    produces_causal_lm: bool = True  # False for the reward model (a scalar head, not evaluated)
    description: str = ""
    traits: MethodTraits = NOT_APPLICABLE


_REGISTRY: dict[str, MethodSpec] = {}

SHARED_MODULES = ("registry", "config", "validation", "loading", "export", "lifecycle", "sweep", "health")
"""Modules of `sycolab.methods` that serve every method; every other public module there is a method."""


def register_method(
    name: str, config: type[BaseModel], needs: tuple[str, ...] = (), produces_causal_lm: bool = True,
    traits: MethodTraits = NOT_APPLICABLE,
) -> Callable[[Callable[[MethodContext], Any]], Callable[[MethodContext], Any]]:
    """Decorator: `@register_method("dpo", config=DPOMethodConfig, traits=MethodTraits("ref", "saturating",
    "offline"))` on the method's `run`."""

    def decorate(run: Callable[[MethodContext], Any]) -> Callable[[MethodContext], Any]:
        if name in _REGISTRY and _REGISTRY[name].run is not run:
            raise ValueError(f"method '{name}' registered twice")
        _REGISTRY[name] = MethodSpec(name, config, run, needs, produces_causal_lm, (run.__doc__ or "").strip(), traits)
        return run

    return decorate


def get_method(name: str) -> MethodSpec:
    _load_builtin_methods()
    if name not in _REGISTRY:
        raise KeyError(name)
    return _REGISTRY[name]


def find_method(name: str) -> MethodSpec | None:
    """The registered method `name`, or None (a run store may name a method this installation lacks)."""
    _load_builtin_methods()
    return _REGISTRY.get(name)


def produces_causal_lm(method: str) -> bool:
    """Whether `method`'s models are causal LMs (evaluated and probed; the reward model is not). True for a
    method this installation has not registered, so an unknown model is shown rather than hidden."""
    spec = find_method(method)
    return spec is None or spec.produces_causal_lm


def method_names() -> list[str]:
    _load_builtin_methods()
    return sorted(_REGISTRY)


def _load_builtin_methods() -> None:
    import importlib
    import pkgutil

    import sycolab.methods as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_") and info.name not in SHARED_MODULES:
            importlib.import_module(f"sycolab.methods.{info.name}")
