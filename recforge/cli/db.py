"""``recforge db upgrade|downgrade|current``: manage the store's schema (honours RECFORGE_DB)."""

from __future__ import annotations

import click
from sqlalchemy import Engine

from recforge.core.store import schema_check
from recforge.core.store.engine import make_engine, redact


def _report(engine: Engine, verb: str) -> None:
    current = schema_check.current_revision(engine)
    click.echo(f"{verb} {redact(str(engine.url))}: revision {current or 'base (empty)'}")


@click.group("db")
def db() -> None:
    """Create, upgrade and inspect the run store's database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    engine = make_engine()
    try:
        schema_check.upgrade(engine, revision)
        _report(engine, "upgraded")
    finally:
        engine.dispose()


@db.command("downgrade")
@click.argument("revision", default="-1")
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (default: one step; `base` removes every table)."""
    engine = make_engine()
    try:
        schema_check.downgrade(engine, revision)
        _report(engine, "downgraded")
    finally:
        engine.dispose()


@db.command("current")
def current() -> None:
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
        click.echo(f"{redact(str(engine.url))}: revision {rev or 'base (empty)'} (code head {head}, {state})")
    finally:
        engine.dispose()


COMMANDS = [db]
