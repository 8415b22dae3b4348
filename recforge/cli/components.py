"""``recforge components list|show``: browse the component catalogue.

Both read the cached catalogue (:mod:`recforge.cli._catalogue`): no plugin and no torch is
imported unless a plugin changed since the last listing.
"""

from __future__ import annotations

import click

from recforge.cli._catalogue import RELOAD_HELP, catalogue
from recforge.cli._output import emit_json, emit_table
from recforge.core.catalogue import KINDS
from recforge.services.text import plain_doc


@click.group("components")
def components() -> None:
    """Browse encoders, interactions, rankers and dataset recipes."""


@components.command("list")
@click.argument("pattern", required=False)
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--reload", is_flag=True, help=RELOAD_HELP)
def list_components(pattern: str | None, kind: str | None, as_json: bool, reload: bool) -> None:
    """List components, optionally filtered by KIND and a wildcard PATTERN (e.g. 'text-*')."""
    infos = catalogue(reload).list(kind, pattern)
    if as_json:
        emit_json([i.to_dict() for i in infos])
        return
    emit_table(
        "components",
        ["name", "kind", "plugin", "version", "summary"],
        [(i.name, i.kind, i.plugin, f"{i.plugin_version}/{i.version}", plain_doc(i.summary)) for i in infos],
    )


@components.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--reload", is_flag=True, help=RELOAD_HELP)
def show_component(name: str, as_json: bool, reload: bool) -> None:
    """Show a component's parameters (types, defaults, help) and its documentation."""
    info = catalogue(reload).get(name)
    if as_json:
        emit_json(info.to_dict(full=True))
        return
    click.echo(f"{info.name}  ({info.kind}, plugin {info.plugin} {info.plugin_version}, v{info.version})\n")
    click.echo(plain_doc(info.doc) or "(no documentation)")
    click.echo("")
    emit_table(
        "parameters",
        ["name", "type", "default", "help"],
        [(p.name, p.type if not p.choices else " | ".join(map(str, p.choices)), repr(p.default), p.help) for p in info.params],
    )


COMMANDS = [components]
