"""Load a study config: YAML file + `--set key.path=value` overrides, validated all at once.

Every problem is reported in one `ConfigError`, each as `file:line: key.path: message`, so a user fixes
a config in one pass. The line is the YAML line of the offending key (or of its nearest parent).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from sycolab.config.checks import Problem, selection_slice_problems, study_problems
from sycolab.config.methods import MethodCell, method_sections
from sycolab.config.schema import StudyConfig
from sycolab.errors import ConfigError
from sycolab.io import read_text


@dataclass(frozen=True)
class ConfigOrigin:
    """Where a validated config came from: its file (or manifest) and YAML tree, to name lines later."""

    source: str
    yaml_root: yaml.Node | None = None

    def locate(self, problems: list[Problem]) -> list[str]:
        return [_located(self.source, self.yaml_root, loc, f"{'.'.join(loc)}: {message}") for loc, message in problems]


def config_error(cfg: StudyConfig, problems: list[Problem]) -> ConfigError:
    """One ConfigError listing `problems` of `cfg` with its file and YAML lines (checks run after loading)."""
    origin = cfg._origin or ConfigOrigin("<config>")
    return ConfigError(origin.source, origin.locate(problems))


def load_config(path: str | Path, overrides: list[str] | None = None) -> StudyConfig:
    path = Path(path)
    if not path.exists():
        raise ConfigError(str(path), ["file not found (give the path to a study YAML, e.g. configs/tiny.yaml)"])
    text = read_text(path)  # a folder or non-UTF-8 bytes: DataError naming the file (and line)
    try:
        raw = yaml.safe_load(text) or {}
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(where, [f"invalid YAML: {getattr(e, 'problem', e)}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["top level must be a mapping of sections (world, base, induce, recover, ...)"])
    problems: list[str] = []
    for item in overrides or []:
        try:
            apply_override(raw, item)
        except ValueError as e:
            problems.append(f"--set {item}: {e}")
    return validate_config(raw, source=str(path), yaml_root=root, problems=problems)


def validate_config(
    raw: dict[str, Any], source: str = "<config>", yaml_root: yaml.Node | None = None, problems: list[str] | None = None
) -> StudyConfig:
    """Validate a raw dict into a StudyConfig; collect every problem (schema and method sections)."""
    problems = list(problems or [])
    cfg: StudyConfig | None = None
    try:
        cfg = StudyConfig.model_validate(raw)
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            problems.append(_located(source, yaml_root, err["loc"], f"{loc}: {_message(err)}"))
    sections, section_problems = method_sections(raw)
    for problem in section_problems:
        key_path = problem.split(":", 1)[0].strip()
        problems.append(_located(source, yaml_root, _key_path(key_path, yaml_root), problem))
    origin = ConfigOrigin(source, yaml_root)
    if cfg is not None:
        produced = sections.produced_models() if sections is not None else None
        problems.extend(origin.locate(study_problems(cfg, produced)))
        if sections is not None:
            problems.extend(origin.locate(selection_slice_problems(cfg, sections.checkpoint_policies())))
    if problems:
        raise ConfigError(source, problems)
    assert cfg is not None and sections is not None
    cfg._origin = origin
    cfg._methods = sections
    return cfg


def _key_path(text: str, root: yaml.Node | None) -> tuple[str, ...]:
    """Split 'recover.ipo[beta=0.5].beta' into keys, following the YAML tree so that a key holding dots
    (`recover: {../../x: ...}`) stays whole; past the tree, dots inside brackets do not split."""
    parts: list[str] = []
    node, rest = root, text
    while rest and isinstance(node, yaml.MappingNode):
        keys = sorted(node.value, key=lambda kv: -len(str(kv[0].value)))
        match = next(((k, v) for k, v in keys if rest == str(k.value) or rest.startswith(f"{k.value}.")), None)
        if match is None:
            break
        parts.append(str(match[0].value))
        rest, node = rest[len(str(match[0].value)) + 1:], match[1]
    depth, current = 0, ""
    for char in rest:
        depth += (char == "[") - (char == "]")
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return (*parts, current) if rest else tuple(parts)


def _message(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (check the spelling; see configs/tiny.yaml for every key)"
    if err["type"] == "value_error":  # a validator's own message already says what it got
        return str((err.get("ctx") or {}).get("error", err["msg"]))
    got = err.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    return f"{err['msg']} (got {shown})"


def recover_cells(cfg: StudyConfig) -> list[MethodCell]:
    """Every model the recover stage trains, sweep cells expanded, in config order (validated at load)."""
    return list(cfg.methods.recover)


def produced_models(cfg: StudyConfig) -> list[str]:
    """The causal LMs a study makes, in order (`MethodSections.produced_models`)."""
    return cfg.methods.produced_models()


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply `key.path=value` (value parsed as YAML, so `0.2`, `[1, 2]`, `true`, `null` work)."""
    if "=" not in item:
        raise ValueError("expected key.path=value")
    key, _, value_text = item.partition("=")
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ValueError("empty key path")
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as e:
        raise ValueError(f"value is not valid YAML: {e}") from None
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ValueError(f"'{part}' is not a section")
        node = child
    node[parts[-1]] = value


def _located(source: str, root: yaml.Node | None, loc: tuple[Any, ...], text: str) -> str:
    line = _line_of(root, loc)
    return f"line {line}: {text}" if line else text


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def dump_config(cfg: StudyConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
