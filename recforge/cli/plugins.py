"""``recforge plugins list|install|uninstall``: manage plugin packages."""

from __future__ import annotations

import click

from recforge.cli._output import emit_json, emit_table
from recforge.core.registry import get_registry


@click.group("plugins")
def plugins() -> None:
    """List, install and uninstall recforge plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_plugins(as_json: bool) -> None:
    """List loaded plugins with their version, components and load error."""
    records = get_registry().plugin_list()
    if as_json:
        emit_json([r.to_dict() for r in records])
        return
    emit_table(
        "plugins",
        ["plugin", "version", "origin", "components", "error"],
        [(r.name, r.version, r.origin, len(r.components), r.error or "") for r in records],
    )


COMMANDS = [plugins]
