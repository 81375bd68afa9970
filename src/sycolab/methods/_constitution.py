"""The constitution of the constitutional-AI methods: a YAML file with a list `principles` of {name, text}.

The shipped one (`sycolab/configs/constitution.yaml`) has the reference study's seven principles
(diplomatic honesty, position consistency, knowledge over preference, no mimicry, no flattery, no epistemic
cowardice, helpfulness floor); a method's `constitution:` key points at another file of the same layout.
A file that does not parse or lacks a field is a `ConfigError` naming the file and the key (exit 2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from sycolab.errors import ConfigError
from sycolab.io import read_text

SHIPPED = "constitution.yaml"


@dataclass(frozen=True)
class Principle:
    name: str
    text: str


@dataclass(frozen=True)
class Constitution:
    principles: tuple[Principle, ...]
    source: str          # the file it was read from
    sha256: str          # of the file's bytes (recorded in the method's summary)


def shipped_constitution_path() -> Path:
    return Path(str(resources.files("sycolab") / "configs" / SHIPPED))


def load_constitution(path: str | Path | None = None) -> Constitution:
    """The principles in `path` (None: the shipped constitution). Every problem is reported at once."""
    path = Path(path) if path is not None else shipped_constitution_path()
    if not path.is_file():
        raise ConfigError(str(path), ["file not found (give a YAML file with a list 'principles' of {name, text})"])
    text = read_text(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(where, [f"invalid YAML: {getattr(e, 'problem', e)}"]) from None
    entries = raw.get("principles") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(str(path), ["principles: expected a non-empty list of {name, text}"])
    problems: list[str] = []
    principles: list[Principle] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"principles[{i}]: expected a mapping with name and text, got {entry!r}")
            continue
        unknown = sorted(set(entry) - {"name", "text"})
        if unknown:
            problems.append(f"principles[{i}]: unknown field(s) {unknown} (known fields: name, text)")
        for key in ("name", "text"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"principles[{i}].{key}: expected a non-empty string, got {value!r}")
        if not problems:
            principles.append(Principle(entry["name"].strip(), " ".join(entry["text"].split())))
    names = [p.name for p in principles]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"principles: duplicate name(s) {duplicates}")
    if problems:
        raise ConfigError(str(path), problems)
    return Constitution(tuple(principles), str(path), hashlib.sha256(path.read_bytes()).hexdigest())
