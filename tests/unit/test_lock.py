"""requirements.lock (compiled by `make lock`) and pyproject.toml name the same direct dependencies, and every
pin satisfies pyproject's range; torch is installed from the Makefile's TORCH_SPEC, which must satisfy it too."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKED_EXTRAS = ("test", "dev")
NOT_LOCKED = {"torch"}  # installed first from TORCH_SPEC; the lock is compiled against it


def direct_requirements(pyproject_text: str) -> dict[str, Requirement]:
    project = tomllib.loads(pyproject_text)["project"]
    lines = list(project["dependencies"])
    for extra in LOCKED_EXTRAS:
        lines += project["optional-dependencies"][extra]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def parse_lock(lock_text: str) -> tuple[dict[str, Version], set[str]]:
    """(pins, direct): every `name==version` line, and the names pip-compile marks as coming from pyproject."""
    pins: dict[str, Version] = {}
    direct: set[str] = set()
    current = None
    for line in lock_text.splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if match and not line.startswith(" "):
            current = canonicalize_name(match.group(1))
            pins[current] = Version(match.group(2))
        elif current and "sycolab (pyproject.toml)" in line:
            direct.add(current)
    return pins, direct


def lock_mismatches(pyproject_text: str, lock_text: str) -> list[str]:
    wanted = direct_requirements(pyproject_text)
    pins, direct = parse_lock(lock_text)
    problems = [f"{n}: in pyproject.toml, not locked (run `make lock`)"
                for n in sorted(set(wanted) - NOT_LOCKED - direct)]
    problems += [f"{n}: locked as a direct dependency, not in pyproject.toml (run `make lock`)"
                 for n in sorted(direct - set(wanted))]
    problems += [f"{n}: locked {pins[n]} outside pyproject's '{wanted[n].specifier}'"
                 for n in sorted(set(wanted) & set(pins)) if not wanted[n].specifier.contains(pins[n], prereleases=True)]
    problems += [f"{n}: pinned in the lock, but it is installed from TORCH_SPEC" for n in sorted(NOT_LOCKED & set(pins))]
    return problems


def test_lock_and_pyproject_agree():
    assert lock_mismatches((ROOT / "pyproject.toml").read_text(), (ROOT / "requirements.lock").read_text()) == []


def test_every_lock_line_is_an_exact_pin():
    pins, _ = parse_lock((ROOT / "requirements.lock").read_text())
    requirement_lines = [ln for ln in (ROOT / "requirements.lock").read_text().splitlines()
                         if ln and not ln.startswith((" ", "#"))]
    assert len(requirement_lines) == len(pins) > 20


def test_a_dependency_added_to_one_side_only_is_caught():
    pyproject = (ROOT / "pyproject.toml").read_text()
    lock = (ROOT / "requirements.lock").read_text()
    added = pyproject.replace('"pyyaml>=6",', '"pyyaml>=6",\n  "rich>=13",')
    assert added != pyproject
    assert lock_mismatches(added, lock) == ["rich: in pyproject.toml, not locked (run `make lock`)"]
    dropped = pyproject.replace('  "submitit>=1.5,<2",\n', "")
    assert dropped != pyproject
    assert lock_mismatches(dropped, lock) == ["submitit: locked as a direct dependency, not in pyproject.toml (run `make lock`)"]
    narrowed = re.sub(r'"transformers>=[^"]*"', '"transformers>=5.0,<5.1"', pyproject)
    assert [p.split(":")[0] for p in lock_mismatches(narrowed, lock)] == ["transformers"]


def test_torch_spec_in_the_makefile_satisfies_pyproject():
    spec = re.search(r"^TORCH_SPEC \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert spec, "Makefile has no TORCH_SPEC line"
    pinned = Requirement(spec.group(1))
    version = Version(str(pinned.specifier).removeprefix("=="))
    torch_range = direct_requirements((ROOT / "pyproject.toml").read_text())["torch"].specifier
    assert torch_range.contains(version)
