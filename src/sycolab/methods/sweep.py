"""Hyperparameter sweeps: a list where the config expects one value is a sweep axis.

`expand_grid("ipo", {"beta": [0.5, 1.0], "learning_rate": [2e-5, 5e-6]})` gives four cells named
`ipo[beta=0.5,lr=2e-05]`, `ipo[beta=0.5,lr=5e-06]`, ... (the Cartesian product, axes in the order their keys
appear in the raw mapping, the last axis varying fastest), each validated by the method's config class. A
field declared as a list (e.g. `lora.target_modules`) takes a list as its value and is not an axis; nested
model fields sweep too (`lora: {r: [8, 16]}` -> `lora.r=8`). A method with no axis gives one cell named
after the method.
"""

from __future__ import annotations

import itertools
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from sycolab.errors import ConfigError
from sycolab.methods.validation import nested_model_type, show_value, validation_problems

#: Short names of swept fields in cell names; other fields keep their own name.
SHORT_NAMES: dict[str, str] = {"learning_rate": "lr"}


def expand_grid(method_name: str, raw: dict | None, where: str | None = None) -> list[tuple[str, BaseModel]]:
    """Cells (name, validated config) of the sweep `raw` for method `method_name`.

    Raises ConfigError whose `problems` lists every problem of every cell as 'key.path: expected X, got Y'
    (`where` is the key path of `raw`, default "recover.<method>").
    """
    cells, problems = _expand(method_name, raw, where)
    if problems:
        raise ConfigError(where or f"recover.{method_name}", problems)
    return cells


def sweep_problems(method_name: str, raw: dict | None, where: str | None = None) -> list[str]:
    """Every problem `expand_grid` would raise, as a list (empty when the sweep is valid)."""
    return _expand(method_name, raw, where)[1]


def _expand(method_name: str, raw: dict | None, where: str | None) -> tuple[list[tuple[str, BaseModel]], list[str]]:
    from sycolab.methods.registry import get_method, method_names

    where = where or f"recover.{method_name}"
    try:
        config_cls = get_method(method_name).config_cls
    except KeyError:
        return [], [f"{where}: unknown method '{method_name}' (known: {', '.join(method_names())})"]
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        return [], [f"{where}: expected a mapping of {method_name} settings, got {show_value(raw)}"]

    axes: list[tuple[tuple[str, ...], list[Any]]] = []
    problems: list[str] = []
    _find_axes(config_cls, raw, (), axes)
    empty = [path for path, values in axes if not values]
    if empty:  # reported; validate the rest with those keys left at their defaults
        problems.extend(f"{'.'.join((where, *path))}: expected a non-empty list of values to sweep, got []" for path in empty)
        raw = _without(raw, empty)
        axes = [(path, values) for path, values in axes if values]

    cells: list[tuple[str, BaseModel]] = []
    seen: set[str] = set()
    for values in itertools.product(*(vals for _, vals in axes)):
        cell_raw = _with_values(raw, [path for path, _ in axes], values)
        name = _cell_name(method_name, [path for path, _ in axes], values)
        try:
            config = config_cls.model_validate(cell_raw)
        except ValidationError as exc:
            for problem in validation_problems(exc, where, config_cls):
                if problem not in problems:
                    problems.append(problem)
            continue
        if name in seen:
            problems.append(f"{where}: sweep values give the cell '{name}' twice")
            continue
        seen.add(name)
        cells.append((name, config))
    return cells, problems


def _find_axes(
    model_cls: type[BaseModel] | None,
    raw: dict,
    prefix: tuple[str, ...],
    axes: list[tuple[tuple[str, ...], list[Any]]],
) -> None:
    """Collect (key path, values) for every list given to a non-list field, in the order keys appear."""
    fields = model_cls.model_fields if model_cls is not None else {}
    for key, value in raw.items():
        field = fields.get(key)
        path = (*prefix, key)
        if field is None:
            continue  # unknown keys are reported by validation
        nested = nested_model_type(field.annotation)
        if nested is not None and isinstance(value, dict):
            _find_axes(nested, value, path, axes)
        elif isinstance(value, list) and not _accepts_list(field.annotation):
            axes.append((path, value))


def _accepts_list(annotation: Any) -> bool:
    """True when the declared type takes a list as one value (list, tuple, set, or a union with one)."""
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set, frozenset):
        return True
    return any(_accepts_list(arg) for arg in typing.get_args(annotation)) if origin is not None else False


def _with_values(raw: dict, paths: list[tuple[str, ...]], values: tuple[Any, ...]) -> dict:
    cell = _copy_dicts(raw)
    for path, value in zip(paths, values):
        target = cell
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return cell


def _without(raw: dict, paths: list[tuple[str, ...]]) -> dict:
    cell = _copy_dicts(raw)
    for path in paths:
        target = cell
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return cell


def _copy_dicts(value: Any) -> Any:
    return {k: _copy_dicts(v) for k, v in value.items()} if isinstance(value, dict) else value


def _cell_name(method_name: str, paths: list[tuple[str, ...]], values: tuple[Any, ...]) -> str:
    if not paths:
        return method_name
    parts = [f"{'.'.join((*p[:-1], SHORT_NAMES.get(p[-1], p[-1])))}={_format(v)}" for p, v in zip(paths, values)]
    return f"{method_name}[{','.join(parts)}]"


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
