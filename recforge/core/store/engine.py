"""Database URL, engine and session factory.

The default store is a SQLite file ``$RECFORGE_HOME/recforge.db``; ``RECFORGE_DB`` takes any
SQLAlchemy URL (e.g. ``postgresql+psycopg://user@host/db``).

SQLite is tuned for several processes writing at once (a trainer, a console, a second
trainer): WAL journal so readers never block the writer, foreign keys on (cascading deletes),
a busy timeout, and every transaction opened with ``BEGIN IMMEDIATE``. The last one matters:
with deferred transactions a reader that later writes can fail at once with "database is
locked" (the busy handler is not consulted when a WAL snapshot goes stale); taking the write
lock up front makes concurrent writers queue on the busy timeout instead.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from recforge.core import paths
from recforge.core.errors import StoreError

DB_ENV = "RECFORGE_DB"
#: how long a SQLite writer waits for another process's write lock before failing
BUSY_TIMEOUT_S = 60.0


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else ``RECFORGE_DB``, else the SQLite file under HOME."""
    chosen = url or os.environ.get(DB_ENV) or ""
    if chosen.strip():
        return chosen.strip()
    return f"sqlite:///{paths.home() / 'recforge.db'}"


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for ``url`` (see :func:`database_url`) with the SQLite tuning applied."""
    url = database_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"'{url}' is not a database URL", fix=f"set {DB_ENV} to a SQLAlchemy URL such as sqlite:///path/recforge.db"
        ) from None
    kwargs: dict[str, Any] = {}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and _read_only_file(parsed.database):
        parsed = _read_only_url(parsed.database or "")
    if is_sqlite:
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
        if parsed.database and parsed.database != ":memory:" and not is_read_only(parsed):
            try:
                os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
            except OSError as err:
                raise StoreError(
                    f"cannot create the folder of the database file {parsed.database}: {err.strerror}",
                    fix=f"set RECFORGE_HOME or {DB_ENV} to a writable location",
                ) from None
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError, ModuleNotFoundError) as err:
        raise StoreError(
            f"cannot use database URL {redact(url)}: {err}",
            fix="install the driver (e.g. `pip install 'recforge[postgres]'`) or fix the URL",
        ) from None
    if is_sqlite:
        _tune_sqlite(engine)
    return engine


def _read_only_file(database: str | None) -> bool:
    """An existing SQLite file that this process cannot write (read-only mount or permissions)."""
    if not database or database == ":memory:" or database.startswith("file:") or not os.path.isfile(database):
        return False
    folder = os.path.dirname(os.path.abspath(database))
    return not (os.access(database, os.W_OK) and os.access(folder, os.W_OK))


def _read_only_url(database: str) -> Any:
    """A URL opening ``database`` read-only and immutable: no lock or WAL files are created,
    which a read-only folder could not hold, so listing and showing runs still works."""
    return make_url(f"sqlite:///file:{os.path.abspath(database)}?mode=ro&immutable=1&uri=true")


def is_read_only(url: Any) -> bool:
    """Whether ``url`` (an engine's URL) was opened read-only by :func:`make_engine`."""
    return url.get_backend_name() == "sqlite" and url.query.get("mode") == "ro"


def _tune_sqlite(engine: Engine) -> None:
    read_only = is_read_only(engine.url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take over transaction control from the sqlite3 module (see module docstring)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if engine.url.database not in (None, "", ":memory:") and not read_only:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit and close (no expiry on commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
