"""Import cycles between sycolab's subpackages (`sycolab.<part>`), counting imports inside functions and
leaving out those under `if TYPE_CHECKING:` (they never run).

    python tools/import_cycles.py            # every cycle, shortest first, with one import per edge
    python tools/import_cycles.py --count    # just the number of elementary cycles

An edge a -> b means some module of `sycolab.a` imports from `sycolab.b`; a cycle is an elementary circuit
of that graph (Johnson's algorithm, networkx.simple_cycles).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1] / "src" / "sycolab"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(imported sycolab module, line) for every import that runs, at any depth."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
        stack.extend(ast.iter_child_nodes(node))


def part_of(module: str) -> str | None:
    """`sycolab.data.build.x` -> "data"; None outside sycolab or for the package itself."""
    parts = module.split(".")
    return parts[1] if parts[0] == "sycolab" and len(parts) > 1 else None


def import_graph(root: Path = ROOT) -> nx.DiGraph:
    """Subpackage graph; each edge carries one example import as `where` ("file:line -> module")."""
    graph = nx.DiGraph()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        is_package = rel.name == "__init__"
        module = ".".join(rel.parts[:-1] if is_package else rel.parts)
        source = part_of(module)
        if source is None:
            continue
        graph.add_node(source)
        for target_module, line in _imports(ast.parse(path.read_text(), str(path)), module, is_package):
            target = part_of(target_module)
            if target is not None and target != source and not graph.has_edge(source, target):
                graph.add_edge(source, target, where=f"{path.relative_to(root.parent.parent)}:{line} -> {target_module}")
    return graph


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    """Elementary cycles, shortest first, each starting at its alphabetically first part."""
    found = []
    for cycle in nx.simple_cycles(graph):
        start = cycle.index(min(cycle))
        found.append(cycle[start:] + cycle[:start])
    return sorted(found, key=lambda c: (len(c), c))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", action="store_true", help="print only the number of cycles")
    args = parser.parse_args(argv)
    graph = import_graph()
    found = cycles(graph)
    if args.count:
        print(len(found))
        return 0
    for cycle in found:
        print(" -> ".join([*cycle, cycle[0]]))
        for a, b in zip(cycle, [*cycle[1:], cycle[0]]):
            print(f"    {graph.edges[a, b]['where']}")
    print(f"{len(found)} cycles between {graph.number_of_nodes()} parts of sycolab")
    return 0


if __name__ == "__main__":
    sys.exit(main())
