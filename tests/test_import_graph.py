"""The import graph of our three packages: layers hold and no module imports itself back.

Every import counts, at module level, under ``TYPE_CHECKING`` and inside functions alike: a
loop through a type-only or a lazy import still says "these modules know each other".
The graph is read with ``ast`` from the files on disk, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("approvals", "bot", "providers")

# What each package may not import (by top-level name).
FORBIDDEN = {
    "approvals": {"bot", "providers", "slack_bolt", "slack_sdk", "httpx", "winrm"},
    "providers": {
        "bot",
        "approvals",
        "slack_bolt",
        "slack_sdk",
        "sqlmodel",
        "sqlalchemy",
        "alembic",
        "psycopg",
    },
}

# The rooms of bot/, and which other rooms each may import. The wiring (bot.runtime) builds the
# executor from ``running``; ``running``'s servers take the wired Runtime; nothing below the
# wiring imports it, and no two modules import each other (the cycle check).
BOT_ROOMS: dict[str, set[str]] = {
    "errors": set(),
    "config": {"errors"},
    "tenants": {"config", "errors"},
    "ops": {"config", "errors", "tenants"},
    "commands": {"config", "errors", "tenants", "ops"},
    "slack": {"commands", "config", "errors", "tenants", "ops"},
    "running": {"slack", "commands", "config", "errors", "tenants", "ops", "runtime"},
    "runtime": {"slack", "commands", "config", "errors", "tenants", "ops", "running.executor"},
    "cli": {"running", "runtime", "slack", "commands", "config", "errors", "tenants", "ops"},
    "__main__": {"cli"},
}
MAX_TOP_LEVEL_BOT_MODULES = 8
MAX_MODULE_LINES = 350


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_files() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:  # Alembic's scripts are loaded by path
                yield path


MODULES = {_module_name(path): path for path in _source_files()}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports: for ``from a import b``, ``a.b`` when that is a module."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in MODULES else base)
    return found


GRAPH = {name: {i for i in _imports(path) if i in MODULES} for name, path in MODULES.items()}
ALL_IMPORTS = {name: _imports(path) for name, path in MODULES.items()}


def _room(module: str) -> str:
    parts = module.split(".")
    assert parts[0] == "bot" and len(parts) > 1, module
    return parts[1]


def _room_allows(room: str, module: str) -> bool:
    allowed = BOT_ROOMS[room]
    rest = module.split(".", 1)[1]
    return _room(module) == room or any(
        rest == entry or rest.startswith(entry + ".") for entry in allowed
    )


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_approvals_and_providers_stay_in_their_layer(package: str) -> None:
    crossings = [
        f"{module} imports {target}"
        for module, targets in ALL_IMPORTS.items()
        if module.split(".")[0] == package
        for target in sorted(targets)
        if target.split(".")[0] in FORBIDDEN[package]
    ]
    assert crossings == []


def test_every_bot_module_is_in_a_known_room() -> None:
    rooms = {_room(m) for m in MODULES if m.startswith("bot.")}
    assert rooms <= set(BOT_ROOMS), rooms - set(BOT_ROOMS)


def test_bot_rooms_import_only_the_rooms_below_them() -> None:
    crossings = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.startswith("bot.")
        for target in sorted(targets)
        if target.startswith("bot.") and not _room_allows(_room(module), target)
    ]
    assert crossings == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_in_any_package() -> None:
    assert _cycles(GRAPH) == []


def test_no_module_imports_its_own_package_init() -> None:
    """Python imports the parent package first anyway; importing its ``__init__`` back from
    inside is a loop that only works while ``__init__`` happens to import things in order."""
    offenders = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if module != target and module.startswith(target + ".")
    ]
    assert offenders == []


def test_the_checker_sees_a_cycle_and_a_crossing() -> None:
    """The graph reader finds what these tests look for (they cannot pass by reading nothing)."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
    assert "bot.runtime" in GRAPH["bot.running.serving"]
    assert "bot.slack.context" in GRAPH["bot.slack.listeners"]
    assert "approvals.models" in GRAPH["approvals.jobs"]
    assert _room_allows("slack", "bot.commands.grammar")
    assert not _room_allows("slack", "bot.running.worker")
    assert not _room_allows("runtime", "bot.running.serving")


def test_bot_top_level_stays_small() -> None:
    top = sorted(p.name for p in (ROOT / "bot").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_BOT_MODULES, top


def test_no_module_is_over_the_size_limit() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
