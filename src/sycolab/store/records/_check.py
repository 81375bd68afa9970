"""Reading a stored file back into its record type, and writing a table from one.

A record type is a dataclass whose fields are the file's keys (JSON) or columns (CSV), in the order the
writer writes them. Reading checks the file against it: a key or column that is missing, one the record
does not declare, or a value of the wrong type is a `DataError` naming the file, the line (CSV, JSONL) and the
field, so a file written by another sycolab version stops the reader with exit 2 instead of a wrong
table. Every field is required unless its metadata says `optional` (a JSON key the writer leaves out
when it has no value).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sycolab.errors import DataError
from sycolab.io import read_text, write_table

R = TypeVar("R")

OPTIONAL: dict[str, Any] = {"optional": True}
"""`field(metadata=OPTIONAL)`: a JSON key the writer may leave out (the field's default is used)."""


_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def field_types(record: type) -> dict[str, Any]:
    """Field name -> resolved type of a record dataclass, in declaration order."""
    if record not in _FIELD_TYPES:
        hints = typing.get_type_hints(record)
        _FIELD_TYPES[record] = {f.name: hints[f.name] for f in dataclasses.fields(typing.cast(Any, record))}
    return _FIELD_TYPES[record]


def _optional(record: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(typing.cast(Any, record)) if f.metadata.get("optional"))


def columns(record: type) -> list[str]:
    """The columns of a table record, in the order they are written."""
    return list(field_types(record))


# -- JSON ------------------------------------------------------------------------------------------
def from_json(record: type[R], obj: Any, path: str | Path, where: str = "", line: int | None = None) -> R:
    """`obj` (a parsed JSON object) as a `record`, checked key by key; `where` prefixes field names in
    messages ("metrics.plain_accuracy"); `line`: the object's line in a JSONL file.

    A file that matches takes the fast path (one compiled converter per type); only a mismatch walks the
    object again, keeping the path to the field, to say where it is."""
    try:
        return _converter(record)(obj)
    except _Mismatch:
        return _checked(record, obj, path, where, line)


def _checked(record: type[R], obj: Any, path: str | Path, where: str, line: int | None) -> R:
    if not isinstance(obj, dict):
        raise DataError(str(path), f"expected an object ({record.__name__}), got {_kind(obj)}", line, where or None)
    types_ = field_types(record)
    optional = _optional(record)
    for name in types_:
        if name not in obj and name not in optional:
            raise DataError(str(path), f"missing (this sycolab version's {record.__name__} needs it; "
                                       "was the file written by another version?)", line, _join(where, name))
    for key in obj:
        if key not in types_:
            raise DataError(str(path), f"unexpected (not a field of this sycolab version's {record.__name__}: "
                                       f"{', '.join(types_)})", line, _join(where, str(key)))
    values = {name: _value(obj[name], tp, path, _join(where, name), line) for name, tp in types_.items() if name in obj}
    return record(**values)


class _Mismatch(Exception):
    """A value that does not fit its type (the fast path gives up; `_checked` says where)."""


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {}


def _converter(tp: Any) -> Callable[[Any], Any]:
    """A function that returns a JSON value as type `tp` (nested records built) or raises _Mismatch."""
    if tp not in _CONVERTERS:
        _CONVERTERS[tp] = _make_converter(tp)
    return _CONVERTERS[tp]


def _make_converter(tp: Any) -> Callable[[Any], Any]:
    if tp is Any:
        return lambda value: value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        options = [_converter(a) for a in args if a is not type(None)]
        nullable = type(None) in args

        def union(value: Any) -> Any:
            if value is None and nullable:
                return None
            for option in options:
                try:
                    return option(value)
                except _Mismatch:
                    continue
            raise _Mismatch
        return union
    if dataclasses.is_dataclass(tp):
        record = typing.cast(type, tp)
        fields = {name: _converter(t) for name, t in field_types(record).items()}
        names, required = fields.keys(), fields.keys() - _optional(record)

        def build(value: Any) -> Any:
            if type(value) is not dict or not required <= value.keys() or not value.keys() <= names:
                raise _Mismatch
            return record(**{k: fields[k](v) for k, v in value.items()})
        return build
    if origin in (dict, list):
        container, element = origin, _converter(args[-1])  # dict[str, X], list[X]: X is the last argument

        def collection(value: Any) -> Any:
            if type(value) is not container:
                raise _Mismatch
            if container is dict:
                return {k: element(v) for k, v in value.items()}
            return [element(v) for v in value]
        return collection
    allowed = {float: (int, float), int: (int,), str: (str,), bool: (bool,)}.get(tp)
    if allowed is None:
        raise TypeError(f"record field type {tp!r} is not supported")

    def primitive(value: Any) -> Any:
        if type(value) not in allowed:
            raise _Mismatch
        return value
    return primitive


def _value(value: Any, tp: Any, path: str | Path, where: str, line: int | None = None) -> Any:
    """`value` checked against the type `tp` (and converted: ints to float, nested records built)."""
    if tp is Any:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _value(value, inner[0], path, where, line)
        for option in inner:
            try:
                return _value(value, option, path, where, line)
            except DataError:
                continue
        raise _wrong(path, where, tp, value, line)
    if dataclasses.is_dataclass(tp):
        return from_json(typing.cast(type, tp), value, path, where, line)
    if origin is dict:
        if not isinstance(value, dict):
            raise _wrong(path, where, tp, value, line)
        return {str(k): _value(v, args[1], path, _join(where, str(k)), line) for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise _wrong(path, where, tp, value, line)
        return [_value(v, args[0], path, f"{where}[{i}]", line) for i, v in enumerate(value)]
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _wrong(path, where, tp, value, line)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(path, where, tp, value, line)
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise _wrong(path, where, tp, value, line)
        return value
    raise TypeError(f"record field {where}: type {tp!r} is not supported")


# -- CSV -------------------------------------------------------------------------------------------
def read_rows(path: Path, record: type[R]) -> list[R]:
    """A table written by `write_rows` as `record` rows. The header must hold exactly the record's columns
    (in any order); each cell is converted to its field's type (an empty cell is None)."""
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    header = list(reader.fieldnames or [])
    wanted = columns(record)
    for name in wanted:
        if name not in header:
            raise DataError(str(path), f"column missing (this sycolab version's {record.__name__} needs it; "
                                       "was the table written by another version?)", line=1, field=name)
    for name in header:
        if name not in wanted:
            raise DataError(str(path), f"unexpected column (not one of this sycolab version's {record.__name__}: "
                                       f"{', '.join(wanted)})", line=1, field=name)
    types_ = field_types(record)
    return [record(**{name: _cell(raw.get(name), types_[name], path, line, name) for name in wanted})
            for line, raw in enumerate(reader, start=2)]


def _cell(text: str | None, tp: Any, path: Path, line: int, name: str) -> Any:
    args = typing.get_args(tp)
    nullable = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args
    inner = next((a for a in args if a is not type(None)), tp) if nullable else tp
    if text is None or text == "":
        if nullable:
            return None
        raise DataError(str(path), f"empty cell (expected {_name(tp)})", line=line, field=name)
    try:
        if inner is str:
            return text
        if inner is bool:
            if text not in ("True", "False"):
                raise ValueError(text)
            return text == "True"
        if inner is int:
            return int(text)
        if inner is float:
            number = float(text)
            return number if math.isfinite(number) or not nullable else None
        if typing.get_origin(inner) is list:
            return _value(json.loads(text), inner, path, name)
    except (ValueError, json.JSONDecodeError, DataError):
        raise DataError(str(path), f"cannot read {text!r} as {_name(tp)}", line=line, field=name) from None
    raise TypeError(f"{name}: column type {tp!r} is not supported")


def write_rows(path: Path, record: type, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write `rows` as the table of `record` (its columns, in order). A row key the record does not declare,
    or a missing field without a default, is a programming error (TypeError), so writer and record cannot
    drift apart; cells are written as given."""
    checked = []
    for row in rows:
        built = record(**row)
        checked.append({name: getattr(built, name) for name in columns(record)})
    return write_table(path, checked, columns=columns(record))


# -- messages --------------------------------------------------------------------------------------
def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _name(tp: Any) -> str:
    return str(tp).replace("typing.", "") if not isinstance(tp, type) else tp.__name__


def _wrong(path: str | Path, where: str, tp: Any, value: Any, line: int | None = None) -> DataError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return DataError(str(path), f"expected {_name(tp)}, got {_kind(value)} {shown}", line, where)
