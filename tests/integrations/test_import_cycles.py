"""No import cycle among the modules of integrations (engine, tasks, webhooks, services, clients,
adapters...), lazy imports inside functions included: tasks are enqueued by name
(integrations/queue.py), so nothing that sends one imports integrations.tasks."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("portal", "homes", "devices", "readings", "onboarding", "integrations", "api")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def first_party_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")) if (ROOT / app).is_dir() else []:
            if "migrations" not in path.parts:
                modules[module_name(path)] = path
    return modules


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth (functions too), except under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif _type_checking_only(child):
            yield from (n for orelse in child.orelse for n in _imports_of(orelse))
        else:
            yield from _imports(child)


def _imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """`name` or its nearest enclosing module that is first-party."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imported(module: str, source: str, modules: dict[str, Path], is_package: bool) -> set[str]:
    """The first-party modules `module` imports: `from . import x` counts as module `x`."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _imports(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        found.update(known for name in names if (known := _known(name, modules)))
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = first_party_modules()
    return {
        module: imported(module, path.read_text(), modules, path.name == "__init__.py")
        for module, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_it_finds_no_cycle_through_a_module_of_integrations(graph: dict[str, set[str]]) -> None:
    through_integrations = [
        component
        for component in cycles(graph)
        if any(module.startswith("integrations.") for module in component)
    ]

    assert through_integrations == []


def test_it_finds_no_cycle_between_any_first_party_modules(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_it_has_the_senders_enqueue_tasks_by_name(graph: dict[str, set[str]]) -> None:
    assert "integrations.tasks" not in graph["integrations.engine"]
    assert "integrations.tasks" not in graph["integrations.webhooks"]
    assert {"integrations.engine", "integrations.services"} <= graph["integrations.tasks"]


def test_it_reads_lazy_and_relative_imports() -> None:
    modules = dict.fromkeys(
        ["integrations", "integrations.engine", "integrations.tasks", "integrations.models"],
        Path(),
    )
    source = (
        "from typing import TYPE_CHECKING\n"
        "from .models import UpstreamLink\n"
        "if TYPE_CHECKING:\n"
        "    from . import engine\n"
        "def later() -> None:\n"
        "    from . import tasks\n"
    )

    assert imported("integrations.engine", source, modules, False) == {
        "integrations.models",
        "integrations.tasks",
    }
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
