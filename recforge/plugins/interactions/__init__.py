"""Built-in interactions plugin: registers every built-in interactions through `register_interactions`."""

from __future__ import annotations

from recforge.core.hookspecs import Register, hookimpl


@hookimpl
def register_interactions(register: Register) -> None:
    """Register the built-in interactions."""
