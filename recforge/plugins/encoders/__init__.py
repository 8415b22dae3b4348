"""Built-in encoders plugin: registers every built-in encoders through `register_encoders`."""

from __future__ import annotations

from recforge.core.hookspecs import Register, hookimpl


@hookimpl
def register_encoders(register: Register) -> None:
    """Register the built-in encoders."""
