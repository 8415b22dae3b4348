"""Every hook spec and every built-in component is documented (components: ``Args:`` and
``Example:`` sections), so ``recforge components show`` always has something to say."""

from __future__ import annotations

import inspect

import pytest

from recforge.core import hookspecs
from recforge.core.registry import Registry

HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")]


def _builtin_components() -> list[tuple[str, str, str]]:
    reg = Registry()
    reg.load_builtins()
    return [(c.name, c.kind, c.doc) for c in reg.list() if reg.plugins[c.plugin].origin == "builtin"]


BUILTINS = _builtin_components()


def test_every_hook_is_a_documented_spec() -> None:
    assert set(HOOKS) >= {"register_encoders", "register_interactions", "register_rankers", "register_datasets", "register_commands"}


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_documented(hook: str) -> None:
    fn = getattr(hookspecs, hook)
    doc = inspect.getdoc(fn) or ""
    assert doc.strip(), f"hook spec {hook} has no docstring"
    assert "Args:" in doc, f"hook spec {hook} docstring lacks an Args: section"
    for name in inspect.signature(fn).parameters:
        assert f"{name}:" in doc, f"hook spec {hook} does not document its argument '{name}'"


@pytest.mark.parametrize(("name", "kind", "doc"), BUILTINS, ids=[f"{k}:{n}" for n, k, _ in BUILTINS])
def test_builtin_component_documented(name: str, kind: str, doc: str) -> None:
    assert doc.strip(), f"{kind} '{name}' has no docstring"
    assert "\nArgs:" in f"\n{inspect.cleandoc(doc)}", f"{kind} '{name}' docstring lacks an Args: section"
    assert "\nExample:" in f"\n{inspect.cleandoc(doc)}", f"{kind} '{name}' docstring lacks an Example: section"
