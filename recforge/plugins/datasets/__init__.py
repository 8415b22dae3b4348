"""Built-in datasets plugin: registers every built-in datasets through `register_datasets`."""

from __future__ import annotations

from recforge.core.hookspecs import Register, hookimpl


@hookimpl
def register_datasets(register: Register) -> None:
    """Register the built-in datasets."""
