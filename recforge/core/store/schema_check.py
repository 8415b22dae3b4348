"""Schema versions: Alembic configured in code, upgrade/downgrade, and the check on open.

``Store.open()`` calls :func:`ensure_schema`: an empty database is migrated to the head
revision automatically; a database whose revision is behind the code raises a one-line
:class:`StoreError` telling the user to run ``recforge db upgrade`` (never a silent upgrade of
someone's existing data); a revision this code does not know (written by a newer recforge)
says to upgrade recforge.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError

from recforge.core.errors import StoreError
from recforge.core.store.engine import redact
from recforge.core.store.tables import Base

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
VERSION_TABLE = "alembic_version"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations, bound to a connection or URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "recforge ships at least one migration"
    return head


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


@contextmanager
def _connect(engine: Engine) -> Iterator[Connection]:
    try:
        conn = engine.connect()
    except OperationalError as err:
        reason = " ".join(str(err.orig).split()) if err.orig is not None else "connection failed"
        raise StoreError(
            f"cannot connect to the database {redact(str(engine.url))}: {reason}",
            fix="check RECFORGE_DB (or that RECFORGE_HOME is writable)",
        ) from None
    try:
        yield conn
    finally:
        conn.close()


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision, or None for a database that was never migrated."""
    with _connect(engine) as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
        return rev


def _our_tables(engine: Engine) -> set[str]:
    with _connect(engine) as conn:
        names = set(inspect(conn).get_table_names())
        conn.rollback()
    return names & set(Base.metadata.tables)


def _run_command(engine: Engine, fn: Any, revision: str) -> None:
    with _connect(engine) as conn:
        try:
            fn(alembic_config(conn), revision)
        except CommandError as err:
            raise StoreError(f"cannot migrate to '{revision}': {err}", fix="see `recforge db current` and pass a known revision") from None
        except SQLAlchemyError as err:
            reason = " ".join(str(getattr(err, "orig", None) or err).split())
            raise StoreError(f"migration to '{revision}' failed: {reason}", fix="see `recforge db current`; rerun with --debug for details") from None
        if conn.in_transaction():
            conn.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    _run_command(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    """Revert migrations down to ``revision`` (``-1`` = one step, ``base`` = everything)."""
    _run_command(engine, command.downgrade, revision)


def ensure_schema(engine: Engine) -> None:
    """Migrate an empty database; refuse one whose schema is behind or ahead of the code."""
    head = head_revision()
    try:
        current = current_revision(engine)
    except DatabaseError as err:  # e.g. SQLite: "file is not a database"
        reason = " ".join(str(err.orig or err).split())
        raise StoreError(
            f"the store {redact(str(engine.url))} is not a readable database ({reason})",
            fix="restore it from a backup or point RECFORGE_DB / RECFORGE_HOME at another store",
        ) from None
    if current == head:
        return
    if current is None:
        if _our_tables(engine):
            raise StoreError(
                f"database {redact(str(engine.url))} has recforge tables but no schema version",
                fix="point RECFORGE_DB at a fresh database or stamp it with `alembic stamp`",
            )
        try:
            upgrade(engine, "head")
        except StoreError:
            # another process may have migrated it at the same moment; that is fine
            if current_revision(engine) != head:
                raise
        return
    if current in known_revisions():
        raise StoreError(
            f"the database schema (revision {current}) is behind this recforge (revision {head})",
            fix="run `recforge db upgrade`",
        )
    raise StoreError(
        f"the database schema revision {current} is unknown to this recforge (newest {head})",
        fix="upgrade recforge (`pip install -U recforge`) or use another RECFORGE_DB",
    )


def schema_differences(engine: Engine) -> list[Any]:
    """Alembic autogenerate's differences between the ORM metadata and the database."""
    with _connect(engine) as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
        conn.rollback()
    return list(diffs)
