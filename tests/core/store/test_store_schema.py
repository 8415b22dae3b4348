"""Migrations: up -> down -> up on SQLite and PostgreSQL, ORM == migrated schema, schema checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from recforge.core.errors import StoreError
from recforge.core.store import Store, schema_check
from recforge.core.store.engine import make_engine
from recforge.core.store.tables import Base

TABLES = {"experiments", "runs", "params", "metrics", "artifacts", "registered_models", "datasets", "text_cache",
          "studies", "study_trials"}

EXTRA_REVISION = '''
"""test-only next revision"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("extra", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("extra")
'''


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _up_down_up(engine: Engine) -> None:
    schema_check.downgrade(engine, "base")
    assert schema_check.current_revision(engine) is None
    schema_check.upgrade(engine)
    assert schema_check.current_revision(engine) == schema_check.head_revision() == "0002"
    assert TABLES <= _tables(engine)
    assert schema_check.schema_differences(engine) == []
    schema_check.downgrade(engine, "base")
    assert schema_check.current_revision(engine) is None
    assert not (TABLES & _tables(engine))
    schema_check.upgrade(engine, "head")
    assert schema_check.schema_differences(engine) == []


def test_orm_metadata_names_every_table() -> None:
    assert set(Base.metadata.tables) == TABLES


def test_sqlite_up_down_up_matches_orm(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        _up_down_up(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_up_down_up_matches_orm(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        _up_down_up(engine)
        with Store(engine) as store:  # and the repository works there
            run = store.create_run("pg", config={"a": [1, 2]}, plugins={})
            store.start_run(run.id)
            store.log_metrics(run.id, {"auc": 0.5, "nan": float("nan")}, step=1)
            store.finish_run(run.id)
            assert store.register_model("m", run.id).version == 1
            assert [mv.version for mv in store.delete_run(run.id, cascade=True)] == [1]
            assert store.list_runs() == [] and store.list_models() == []
    finally:
        schema_check.downgrade(engine, "base")
        engine.dispose()


def test_open_migrates_an_empty_database() -> None:
    with Store.open() as store:
        assert schema_check.current_revision(store.engine) == "0002"


def _newer_migrations(tmp_path: Path) -> Path:
    """The packaged migrations copied to tmp plus a second revision: "newer code"."""
    folder = tmp_path / "migrations"
    shutil.copytree(schema_check.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "0003_extra.py").write_text(EXTRA_REVISION)
    return folder


def test_database_behind_the_code_asks_for_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open().close()  # at 0002 with the real migrations
    monkeypatch.setattr(schema_check, "MIGRATIONS_DIR", _newer_migrations(tmp_path))
    with pytest.raises(StoreError) as err:
        Store.open()
    assert str(err.value) == (
        "the database schema (revision 0002) is behind this recforge (revision 0003); run `recforge db upgrade`"
    )
    engine = make_engine()
    schema_check.upgrade(engine)
    engine.dispose()
    with Store.open() as store:
        assert schema_check.current_revision(store.engine) == "0003" and "extra" in _tables(store.engine)


def test_database_ahead_of_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = schema_check.MIGRATIONS_DIR
    monkeypatch.setattr(schema_check, "MIGRATIONS_DIR", _newer_migrations(tmp_path))
    Store.open().close()  # migrated by "newer code" to 0003
    monkeypatch.setattr(schema_check, "MIGRATIONS_DIR", real)
    with pytest.raises(StoreError, match="revision 0003 is unknown to this recforge .*upgrade recforge"):
        Store.open()


def test_tables_without_a_version_are_refused() -> None:
    engine = make_engine()
    Base.metadata.create_all(engine)
    engine.dispose()
    with pytest.raises(StoreError, match="has recforge tables but no schema version"):
        Store.open()
