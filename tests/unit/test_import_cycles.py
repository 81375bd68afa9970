"""tools/import_cycles.py: cycles between sycolab's subpackages, imports inside functions counted, those
under `if TYPE_CHECKING:` not; src/ has none."""

from __future__ import annotations

from pathlib import Path

from tools.import_cycles import cycles, import_graph


def _package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "sycolab" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "sycolab"


def test_imports_inside_functions_count_and_type_checking_ones_do_not(tmp_path: Path):
    pkg = _package(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "from sycolab.b import x\n",
        "b/__init__.py": "x = 1\n",
        "b/late.py": "def f():\n    from sycolab.a import y\n    return y\n",  # b -> a: a cycle with a -> b
        "c/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sycolab.a import y\n",
        "a/uses_c.py": "from ..c import z\n",  # relative: a -> c, but c -> a only under TYPE_CHECKING
    })
    graph = import_graph(pkg)
    assert set(graph.edges) == {("a", "b"), ("b", "a"), ("a", "c")}
    assert cycles(graph) == [["a", "b"]]


def test_sycolab_has_no_subpackage_cycles():
    """The report stage runs inside the study (study -> reporting) and the report reads the store, which
    lives below both (reporting -> store, never reporting -> study); keep this list empty."""
    assert cycles(import_graph()) == []


def test_the_store_sits_below_the_stages_that_write_it_and_the_report_that_reads_it():
    """`sycolab.store` may import only leaf packages (models' digests, judge and generation settings), so
    every writer (study, methods, evaluation, probing) and the report can import it without a cycle."""
    graph = import_graph()
    above = {"cli", "study", "reporting", "methods", "evaluation", "probing", "config"}
    assert not above & set(graph.successors("store"))
    assert "study" not in set(graph.successors("reporting"))  # the report reads the store, never the study


def test_the_layering_in_docs_architecture_is_the_import_graph():
    """docs/architecture.md's "Subpackage layering" block lists, per subpackage, exactly what it imports
    (names in parentheses are comments; `study` says "everything below")."""
    import re

    text = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    block = text.split("## Subpackage layering", 1)[1].split("```", 2)[1]
    graph = import_graph()
    documented: dict[str, set[str]] = {}
    for line in block.strip().splitlines():
        name, rest = line.split(None, 1)
        rest = re.sub(r"\([^)]*\)", "", rest.split(";")[0])
        documented[name] = {w.strip() for w in rest.split(",") if w.strip()}
    leaves = {n for n in graph.nodes if not any(True for _ in graph.successors(n)) or n in documented["leaves"]}
    for name in graph.nodes:
        if name in leaves or name == "study":
            continue
        assert documented.get(name) == set(graph.successors(name)), name
