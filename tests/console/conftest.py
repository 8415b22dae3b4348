"""Stores for the console tests.

* ``real_store`` (session): a store filled by the real CLI (see ``real_store.py``); the
  read-only Pilot tests and, through ``pinned_real_db`` (a copy of its databases with the
  timestamps pinned), the SVG snapshots use it.
* ``real_copy`` (per test): a writable copy of that store (databases and artifacts) at the
  test's RECFORGE_HOME, for the Pilot tests that change it (delete, promote, tag, launch); they
  check the values read back from the store, never numbers of their own.
* ``store`` (per test): an empty store at the test's RECFORGE_HOME.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import DateTime, Engine, create_engine, inspect, text

from recforge.core.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from real_store import RealStore, build_real_store

T0 = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.timezone.utc)

def pin_timestamps(engine: Engine) -> None:
    """Rewrite every timestamp: T0 + row id minutes, ends (``ended_at``, ``heartbeat_at``) 95 s later.

    Times are the one thing that differs between two sessions that run the same commands.
    """
    with engine.begin() as conn:
        insp = inspect(conn)
        for table in insp.get_table_names():
            cols = [c["name"] for c in insp.get_columns(table) if isinstance(c["type"], DateTime)]
            keyed = "id" in {c["name"] for c in insp.get_columns(table)}
            for col in cols:
                offset = 95 if col in ("ended_at", "heartbeat_at") else 0
                if not keyed:
                    conn.execute(text(f"UPDATE {table} SET {col} = :t WHERE {col} IS NOT NULL"), {"t": T0})
                    continue
                for (row_id,) in conn.execute(text(f"SELECT id FROM {table} WHERE {col} IS NOT NULL")).fetchall():
                    value = T0 + dt.timedelta(minutes=row_id, seconds=offset)
                    conn.execute(text(f"UPDATE {table} SET {col} = :t WHERE id = :i"), {"t": value, "i": row_id})


@pytest.fixture
def store(recforge_env: Path):
    """A fresh store under the test's RECFORGE_HOME."""
    s = Store.open()
    yield s
    s.close()


def _backup_databases(source_home: Path, target_home: Path) -> None:
    """Copy the store and its Optuna storage with SQLite's backup API (the store runs in WAL mode)."""
    for name in ("recforge.db", "recforge.optuna.db"):  # the study's Optuna storage sits beside the store
        if not (source_home / name).exists():
            continue
        source, target = sqlite3.connect(source_home / name), sqlite3.connect(target_home / name)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()


@pytest.fixture
def real_copy(real_store: RealStore, recforge_env: Path) -> Iterator[SimpleNamespace]:
    """This test's own writable copy of the session's real store, at the test's RECFORGE_HOME.

    The databases are copied with the backup API and the artifacts folder tree beside them, so a
    delete, promote, tag or launch here touches only the copy: the store resolves a run's folder
    under the current home (``paths.artifacts_dir()/runs/<id>``), which is the copy's.
    """
    recforge_env.mkdir(parents=True, exist_ok=True)
    _backup_databases(real_store.home, recforge_env)
    shutil.copytree(real_store.home / "artifacts", recforge_env / "artifacts")
    store = Store.open()
    try:
        yield SimpleNamespace(store=store, home=recforge_env, real=real_store)
    finally:
        store.close()


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory, tasks_dir: Path, datasets_dir: Path) -> RealStore:
    """A store made by the real CLI (train, analyze, register, a failed and an interrupted run)."""
    return build_real_store(tmp_path_factory.mktemp("real"), tasks_dir, datasets_dir)


@pytest.fixture(scope="session")
def pinned_real_db(real_store: RealStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the real store's databases whose timestamps (and only those) are pinned.

    Everything else stays as the CLI wrote it: runs, metrics, params, artifacts (paths, sizes,
    hashes), models, the study. The copy is taken with SQLite's backup API (the store runs in
    WAL mode), so the session's real store is left untouched for the other tests.
    """
    folder = tmp_path_factory.mktemp("pinned")
    _backup_databases(real_store.home, folder)
    for name in ("recforge.db", "recforge.optuna.db"):
        engine = create_engine(f"sqlite:///{folder / name}")
        pin_timestamps(engine)
        engine.dispose()
    copy = folder / "recforge.db"
    return copy


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests run on asyncio (the anyio pytest plugin drives the async tests)."""
    return "asyncio"
