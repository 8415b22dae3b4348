"""Alembic environment for the recforge store.

Configured programmatically by :mod:`recforge.core.store.schema_check` (no ``alembic.ini`` at
runtime): it passes either an open connection in ``config.attributes["connection"]`` or a URL
in the ``sqlalchemy.url`` option. SQLite gets ``render_as_batch`` because it cannot ALTER most
things in place; batch mode copies the table instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from recforge.core.store.engine import make_engine
from recforge.core.store.tables import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
