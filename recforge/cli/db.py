"""``recforge db upgrade|downgrade|current``: manage the store's schema (honours RECFORGE_DB)."""

from __future__ import annotations

import click
from sqlalchemy import Engine

from recforge.cli._output import emit_json
from recforge.core.store import schema_check
from recforge.core.store.engine import make_engine, redact


def _report(engine: Engine, verb: str, as_json: bool) -> None:
    current = schema_check.current_revision(engine)
    if as_json:
        emit_json({"action": verb, "url": redact(str(engine.url)), "revision": current})
        return
    click.echo(f"{verb} {redact(str(engine.url))}: revision {current or 'base (empty)'}")


_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group("db")
def db() -> None:
    """Create, upgrade and inspect the run store's database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
@_json_option
def upgrade(revision: str, as_json: bool) -> None:
    """Apply migrations up to REVISION (default: head)."""
    engine = make_engine()
    try:
        schema_check.upgrade(engine, revision)
        _report(engine, "upgraded", as_json)
    finally:
        engine.dispose()


@db.command("downgrade")
@click.argument("revision", default="-1")
@_json_option
def downgrade(revision: str, as_json: bool) -> None:
    """Revert migrations down to REVISION (default: one step; `base` removes every table)."""
    engine = make_engine()
    try:
        schema_check.downgrade(engine, revision)
        _report(engine, "downgraded", as_json)
    finally:
        engine.dispose()


@db.command("current")
@_json_option
def current(as_json: bool) -> None:
    """Show the database's schema revision and the newest one this recforge knows."""
    engine = make_engine()
    try:
        rev = schema_check.current_revision(engine)
        head = schema_check.head_revision()
        if rev == head:
            state = "up to date"
        elif rev is None:
            state = "empty: run `recforge db upgrade`"
        elif rev in schema_check.known_revisions():
            state = "behind: run `recforge db upgrade`"
        else:
            state = "newer than this recforge: upgrade recforge"
        if as_json:
            emit_json({"url": redact(str(engine.url)), "revision": rev, "head": head, "state": state.split(":")[0]})
            return
        click.echo(f"{redact(str(engine.url))}: revision {rev or 'base (empty)'} (code head {head}, {state})")
    finally:
        engine.dispose()


COMMANDS = [db]
