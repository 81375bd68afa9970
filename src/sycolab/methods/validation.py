"""Pydantic validation errors as a config author reads them: 'key.path: expected X, got Y'.

The lines are `ConfigError.problems`; `sycolab.config.load` adds the file and the YAML line.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from sycolab.errors import ConfigError

_EXPECTED: dict[str, str] = {
    "greater_than": "a number > {gt}",
    "greater_than_equal": "a number >= {ge}",
    "less_than": "a number < {lt}",
    "less_than_equal": "a number <= {le}",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "literal_error": "one of {expected}",
    "list_type": "a list",
    "dict_type": "a mapping of fields",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
}


def show_value(value: Any) -> str:
    """A value as a config author wrote it: strings quoted, booleans and null in YAML spelling."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _constraint(value: Any) -> str:
    """A bound as a person writes it: 0 rather than 0.0, 1e-05 stays 1e-05."""
    return f"{value:g}" if isinstance(value, float) else show_value(value)


def validation_problems(exc: ValidationError, where: str, model_cls: type[BaseModel] | None = None) -> list[str]:
    """Turn a pydantic ValidationError into 'path: expected X, got Y' lines (ConfigError.problems format).

    `where` is the key path of the validated mapping (e.g. "recover.ipo"); each problem's path extends it
    with the field's location.
    """
    problems = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        path = ".".join([where, *loc]) if where else ".".join(loc)
        kind, ctx = err["type"], err.get("ctx") or {}
        if kind == "extra_forbidden":
            known = _known_fields(model_cls, loc[:-1])
            hint = f" (known fields: {', '.join(known)})" if known else ""
            problems.append(f"{path}: unknown field{hint}")
        elif kind == "missing":
            problems.append(f"{path}: required field missing")
        elif kind in _EXPECTED:
            expected = _EXPECTED[kind].format(**{k: _constraint(v) if k != "expected" else v for k, v in ctx.items()})
            problems.append(f"{path}: expected {expected}, got {show_value(err.get('input'))}")
        elif kind == "value_error":
            problems.append(f"{path}: {str(ctx.get('error', err['msg']))}")
        else:
            problems.append(f"{path}: {err['msg']}, got {show_value(err.get('input'))}")
    return problems


def _known_fields(model_cls: type[BaseModel] | None, loc: list[str]) -> list[str]:
    cls: Any = model_cls
    for part in loc:
        field = cls.model_fields.get(part) if cls is not None and hasattr(cls, "model_fields") else None
        cls = nested_model_type(field.annotation) if field is not None else None
    return list(cls.model_fields) if cls is not None and hasattr(cls, "model_fields") else []


def nested_model_type(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model class inside an annotation such as `LoraSettings | None`, if any."""
    candidates = typing.get_args(annotation) or (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def validate_config(config_cls: type[BaseModel], raw: dict, where: str) -> BaseModel:
    """Validate `raw` as `config_cls`; raise ConfigError listing every problem with its key path."""
    try:
        return config_cls.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(where, validation_problems(exc, where, config_cls)) from None
