"""Layout: the library's private modules import each other one way only (no cycles)."""

from __future__ import annotations

import ast
from pathlib import Path

import helpcrunch_async

PACKAGE = Path(helpcrunch_async.__file__).parent


def _imports(path: Path) -> set[str]:
    """The sibling ``_modules`` a module imports anywhere (functions and TYPE_CHECKING too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return {name for name in found if (PACKAGE / f"{name}.py").exists()}


def _graph() -> dict[str, set[str]]:
    return {p.stem: _imports(p) for p in PACKAGE.glob("_*.py") if p.stem != "__init__"}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_models_and_validation_import_one_way() -> None:
    graph = _graph()
    assert "_validation" in graph["_models"]
    assert "_models" not in graph["_validation"]


def test_no_import_cycles_between_library_modules() -> None:
    assert _cycle(_graph()) is None


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"_a": {"_b"}, "_b": {"_c"}, "_c": {"_a"}}) == ["_a", "_b", "_c", "_a"]
    assert _cycle({"_a": {"_b"}, "_b": set()}) is None
