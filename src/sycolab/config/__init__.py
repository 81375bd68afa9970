"""Study configs: pydantic schemas, YAML loading with `--set` overrides, validation with all errors at once.

Names are imported lazily, so `sycolab.config.sections` (used by reports) stays free of torch.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigOrigin", "MethodCell", "apply_override", "config_error", "dump_config", "load_config",
    "produced_models", "recover_cells", "validate_config",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sycolab.config import load

        return getattr(load, name)
    raise AttributeError(f"module 'sycolab.config' has no attribute {name!r}")
