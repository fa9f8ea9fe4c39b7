"""No import cycle among the modules of services/ and shared/.

Imports are read with ``ast``, wherever they stand: at the top, inside functions, and under
``if TYPE_CHECKING:`` (a cycle hidden there still ties two modules together for a reader and a type checker).
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "shared", "qwcli", "devtools")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imports_of(source: str, module: str, *, is_package: bool, known: Collection[str]) -> set[str]:
    """The known modules that ``module``'s source imports anywhere (``from a import b`` names ``a.b`` if that
    is a module, else ``a``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                source_module = ".".join([*base, node.module] if node.module else base)
            else:
                source_module = node.module or ""
            found.add(source_module)
            found.update(f"{source_module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known and name != module}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {module: imports_of(path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py",
                               known=known)
            for module, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_imports_are_found_under_type_checking_inside_functions_and_relative() -> None:
    source = """
from typing import TYPE_CHECKING
from . import sibling
from ..other import thing
if TYPE_CHECKING:
    from pkg.app import Runtime
def later():
    import pkg.lazy
"""
    known = {"pkg", "pkg.sub", "pkg.sub.mod", "pkg.sub.sibling", "pkg.other", "pkg.app", "pkg.lazy"}
    assert imports_of(source, "pkg.sub.mod", is_package=False, known=known) == {
        "pkg.sub", "pkg.sub.sibling", "pkg.other", "pkg.app", "pkg.lazy"}


def test_no_module_of_services_or_shared_takes_part_in_an_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_router_imports_its_app_module() -> None:
    graph = import_graph()
    for service in ("intake", "indicators", "alerts"):
        importers = sorted(module for module, targets in graph.items()
                           if f"services.{service}.app" in targets and module != f"services.{service}.__main__")
        assert importers == [], f"services.{service}.app is the composition root; imported by {importers}"
