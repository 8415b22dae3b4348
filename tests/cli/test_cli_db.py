"""``recforge db upgrade|downgrade|current`` on SQLite and PostgreSQL (honouring RECFORGE_DB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.store import schema_check
from recforge.core.store.engine import make_engine


def _db(*args: str) -> str:
    result = CliRunner().invoke(cli, ["db", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _head_and_previous() -> tuple[str, str]:
    """The newest migration and the one it revises ("base (empty)" when it is the first)."""
    script = ScriptDirectory.from_config(schema_check.alembic_config())
    head = script.get_revision(schema_check.head_revision())
    assert head is not None and not isinstance(head.down_revision, tuple)
    return head.revision, head.down_revision or "base (empty)"


def _cycle(url_hint: str) -> None:
    head, previous = _head_and_previous()
    assert "revision base (empty)" in _db("current") and "empty: run `recforge db upgrade`" in _db("current")
    assert f"revision {head}\n" in _db("upgrade")
    assert f"revision {head} (code head {head}, up to date)" in _db("current")
    assert f"revision {previous}\n" in _db("downgrade")  # one step back from the head
    if previous != "base (empty)":
        assert f"revision {previous} (code head {head}, behind: run `recforge db upgrade`)" in _db("current")
    assert f"revision {head}\n" in _db("upgrade", "head")
    assert "revision base (empty)" in _db("downgrade", "base")
    assert url_hint in _db("current")


def test_db_commands_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "cli.db"
    monkeypatch.setenv("RECFORGE_DB", f"sqlite:///{target}")
    _cycle(str(target))
    engine = make_engine()
    assert schema_check.current_revision(engine) is None
    engine.dispose()


@pytest.mark.postgres
def test_db_commands_on_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECFORGE_DB", postgres_url)
    _cycle("postgresql+psycopg://")


def test_unknown_revision_is_one_error_line() -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", "nope"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot migrate to 'nope'")


def test_unreachable_database_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECFORGE_DB", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(cli, ["db", "current"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect to the database postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert lines[0].endswith("check RECFORGE_DB (or that RECFORGE_HOME is writable)")
