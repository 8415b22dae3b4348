"""Test-wide setup: an isolated RECFORGE_HOME per test, the shared data folders, one thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RECFORGE_SHARED_DIR", REPO.parent / "shared")).resolve()
DATASETS = Path(os.environ.get("RECFORGE_DATA_DIR", SHARED / "datasets")).resolve()
TASKS = Path(os.environ.get("RECFORGE_TASKS_DIR", SHARED / "tasks")).resolve()

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def recforge_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own store, artifacts and caches; data comes from ../shared."""
    home = tmp_path / "recforge-home"
    monkeypatch.setenv("RECFORGE_HOME", str(home))
    monkeypatch.setenv("RECFORGE_DATA_DIR", str(DATASETS))
    monkeypatch.setenv("RECFORGE_TASKS_DIR", str(TASKS))
    monkeypatch.delenv("RECFORGE_DB", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {DATASETS}; set RECFORGE_DATA_DIR")
    return DATASETS


@pytest.fixture(scope="session")
def tasks_dir() -> Path:
    if not TASKS.is_dir():
        pytest.skip(f"shared tasks not found at {TASKS}; set RECFORGE_TASKS_DIR")
    return TASKS


def pytest_configure(config: pytest.Config) -> None:
    import torch

    torch.set_num_threads(1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Under CI (``CI`` set) a skipped test is a failed one: CI installs every extra the tests
    use (``.[dev]``) and starts every service, so a skip there means a missing component
    (``importorskip`` of an uninstalled extra, absent data) that would otherwise pass silently."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which must run every test: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    """The same for a whole module skipped at import (``pytest.importorskip`` at top level)."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"module skipped under CI, which must run every test: {report.longrepr}"


PG_ADMIN_URL = os.environ.get("RECFORGE_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/postgres")


def _unavailable(reason: str) -> None:
    """Skip a PostgreSQL test on a developer's machine without the server; fail it in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must test PostgreSQL: .ci/run starts or checks the server)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> object:
    """A uniquely named, empty PostgreSQL database for this test session (dropped afterwards).

    Skips with the reason when psycopg or the server on 127.0.0.1:5432 is not available, except
    under CI (``CI`` set), where ``.ci/run`` has made sure the server runs: there it fails.
    """
    import uuid

    try:
        import psycopg  # noqa: F401
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
    except ImportError as err:
        _unavailable(f"PostgreSQL tests need psycopg: {err}")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"recforge_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as err:  # noqa: BLE001 - any connection problem means "not reachable"
        admin.dispose()
        _unavailable(f"PostgreSQL server not reachable at {PG_ADMIN_URL}: {type(err).__name__}")
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
