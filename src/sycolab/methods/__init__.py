"""Training methods: one module per method (a pydantic config, a `TrainingRecipe` for the one training lifecycle in
`lifecycle.py`, and a registered `run(ctx)`), looked up by name.

    from sycolab.methods import get_method, MethodContext, expand_grid
    spec = get_method("ipo")                       # MethodSpec(name, config_cls, run, needs, produces_causal_lm)
    for name, config in expand_grid("ipo", {"beta": [0.1, 0.5]}):
        spec.run(MethodContext(name=name, config=config, ...))

Built-in methods: sft, dpo, ipo, simpo, refree_ipo, reward_model, grpo. Importing this package does not
import torch or TRL; a method imports them when it runs.
"""

from sycolab.methods.config import CheckpointPolicy, LoraSettings, TrainingConfig
from sycolab.methods.registry import MethodContext, MethodSpec, get_method, method_names, register_method
from sycolab.methods.sweep import expand_grid, sweep_problems
from sycolab.methods.validation import validation_problems

__all__ = [
    "CheckpointPolicy",
    "LoraSettings",
    "MethodContext",
    "MethodSpec",
    "TrainingConfig",
    "expand_grid",
    "get_method",
    "method_names",
    "register_method",
    "sweep_problems",
    "validation_problems",
]
