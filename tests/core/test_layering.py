"""Layering: core never imports a built-in plugin (except the built-in plugin list), and no
module-level import cycles anywhere in recforge.

Module-level imports only: a function-level (lazy) import cannot form an import-time cycle.
``if TYPE_CHECKING:`` blocks are ignored (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import recforge

ROOT = Path(recforge.__file__).parent
#: the one core module allowed to name built-in plugins: the list of them it loads
BUILTIN_LIST = {"recforge.core.registry"}
#: packages owned by other work in progress whose cycles are tracked there (console: issue 19)
EXEMPT_CYCLES = ("recforge.console",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def top_level_imports(path: Path, modules: set[str] | None = None) -> set[str]:
    """Modules imported when ``path`` is imported (module body, not functions/TYPE_CHECKING).

    ``from pkg import sub`` of a submodule depends on ``pkg.sub`` only (Python imports the
    submodule even while ``pkg`` is initialising); ``from pkg import name`` depends on ``pkg``.
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                subs = {f"{mod}.{a.name}" for a in node.names}
                known = {s for s in subs if modules is not None and s in modules}
                out.update(known)
                if len(known) < len(subs) or modules is None:
                    out.add(mod)
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return out


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in ROOT.rglob("*.py") if "migrations" not in p.parts}
    names = set(files)
    return {name: {m for m in top_level_imports(path, names) if m in files and m != name} for name, path in files.items()}


def test_core_imports_no_builtin_plugin() -> None:
    files = {module_name(p): p for p in (ROOT / "core").rglob("*.py")}
    offenders = {name: sorted(m for m in top_level_imports(p) | lazy_imports(p) if m.startswith("recforge.plugins"))
                 for name, p in files.items() if name not in BUILTIN_LIST}
    assert {k: v for k, v in offenders.items() if v} == {}


def lazy_imports(path: Path) -> set[str]:
    """Every import anywhere in the file (functions included): layering holds for lazy ones too."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            dfs(node)
    real = [c for c in cycles if not all(m.startswith(EXEMPT_CYCLES) for m in c)]
    assert real == []
