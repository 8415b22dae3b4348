"""Built-in rankers plugin: registers every built-in rankers through `register_rankers`."""

from __future__ import annotations

from recforge.core.hookspecs import Register, hookimpl


@hookimpl
def register_rankers(register: Register) -> None:
    """Register the built-in rankers."""
