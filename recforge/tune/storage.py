"""Optuna's RDB storage beside the run store, on the same database server.

Optuna's tables (``studies``, ``trials``, ``alembic_version``, ...) collide with the store's own
names and Alembic version table, so they never share one namespace with it:

* SQLite store ``.../recforge.db``: Optuna uses the file ``.../recforge.optuna.db`` next to it.
* PostgreSQL (or any server database): the same database and credentials, schema ``optuna``
  (created on first use). Workers on several machines that point ``RECFORGE_DB`` at one
  PostgreSQL therefore share every study; see docs/tuning.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from recforge.core.store.engine import BUSY_TIMEOUT_S, redact
from recforge.tune import optuna_module

SCHEMA = "optuna"
#: seconds between a running trial's heartbeats (env RECFORGE_TUNE_HEARTBEAT_S overrides it);
#: a trial silent for GRACE_BEATS of them belonged to a killed worker
HEARTBEAT_S = 10
GRACE_BEATS = 6
HEARTBEAT_ENV = "RECFORGE_TUNE_HEARTBEAT_S"


def heartbeat_s() -> int:
    raw = os.environ.get(HEARTBEAT_ENV, "").strip()
    if not raw:
        return HEARTBEAT_S
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        from recforge.core.errors import ConfigError

        raise ConfigError(f"{HEARTBEAT_ENV}={raw!r} is not a whole number of seconds >= 1",
                          fix=f"unset it or set e.g. {HEARTBEAT_ENV}=10")
    return value


def optuna_url(store_url: str) -> tuple[str, dict[str, Any]]:
    """Optuna's storage URL and engine arguments for the store at ``store_url``."""
    parsed = make_url(store_url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            from recforge.core.errors import StoreError

            raise StoreError("an in-memory store cannot hold a study shared by worker processes",
                             fix="point RECFORGE_DB at a SQLite file or a PostgreSQL database")
        path = Path(database)
        sibling = path.with_name(f"{path.stem}.optuna{path.suffix or '.db'}")
        return f"sqlite:///{sibling}", {"connect_args": {"timeout": BUSY_TIMEOUT_S}}
    if parsed.get_backend_name() == "postgresql":
        return parsed.render_as_string(hide_password=False), {
            "connect_args": {"options": f"-csearch_path={SCHEMA}"}, "pool_pre_ping": True}
    return parsed.render_as_string(hide_password=False), {"pool_pre_ping": True}


def open_storage(store: Any) -> Any:
    """An ``optuna.storages.RDBStorage`` for ``store``, with heartbeats so that a killed
    worker's trial is marked failed (and the study stays resumable)."""
    optuna = optuna_module()

    url, engine_kwargs = optuna_url(store.engine.url.render_as_string(hide_password=False))
    if make_url(url).get_backend_name() == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    try:
        beat = heartbeat_s()
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=beat,
                                          grace_period=beat * GRACE_BEATS)
    except Exception as err:  # optuna wraps driver errors in many classes
        from recforge.core.errors import StoreError

        raise StoreError(f"cannot open the study storage at {redact(url)}: {type(err).__name__}",
                         fix="check the database server and RECFORGE_DB") from None
