"""Stores for the console tests.

* ``real_store`` (session): a store filled by the real CLI (see ``real_store.py``); the
  read-only Pilot tests and, through ``pinned_real_db`` (a copy of its databases with the
  timestamps pinned), the SVG snapshots use it.
* ``filled`` (per test): a store with fixed contents written through the Store API, for the
  Pilot tests that change it (delete, promote, tag, launch) and check exact values.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import DateTime, Engine, create_engine, inspect, text

from recforge.core.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from real_store import RealStore, build_real_store

T0 = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.timezone.utc)

CONFIG_A = {
    "name": "lr",
    "experiment": "ml100k-ctr",
    "data": {"recipe": "files", "params": {"train": "train.csv"}},
    "model": {"embedding_dim": 8, "interaction": "lr", "ranker": "ctr"},
    "train": {"epochs": 3, "lr": 0.01, "batch_size": 1024},
}
CONFIG_B = {
    **CONFIG_A,
    "name": "deepfm",
    "model": {"embedding_dim": 16, "interaction": "deepfm", "ranker": "ctr"},
    "train": {"epochs": 3, "lr": 0.001, "batch_size": 1024},
}
#: valid.auc per epoch of the two finished runs (the chart and compare tests use them)
AUC_A = [0.70, 0.74, 0.75]
AUC_B = [0.72, 0.77, 0.79]
LOGLOSS_A = [0.60, 0.57, 0.56]
LOGLOSS_B = [0.58, 0.55, 0.53]

#: the shape `recforge analyze` writes (see recforge.core.analysis.report); the real-store
#: tests in test_console_real_store.py open a report made by the CLI itself
ANALYSIS = {
    "fields": ["user_id", "item_id", "genres", "age"],
    "importance": {
        "user_id": {"mean": 0.031, "low": 0.027, "high": 0.035},
        "item_id": {"mean": 0.052, "low": 0.047, "high": 0.057},
        "genres": {"mean": 0.012, "low": 0.009, "high": 0.015},
        "age": {"mean": -0.001, "low": -0.002, "high": 0.000},
    },
    "pairs": {
        "strength_matrix": [
            [None, 0.020, 0.004, 0.001],
            [0.020, None, 0.010, 0.000],
            [0.004, 0.010, None, 0.002],
            [0.001, 0.000, 0.002, None],
        ],
    },
}


def _run(store: Store, config: dict, auc: list[float], logloss: list[float], status: str) -> int:
    run = store.create_run(
        experiment=config["experiment"], name=config["name"], config=config, seed=2024,
        dataset="files:3f2a9c", model_summary=f"{config['model']['interaction']}/ctr",
    )
    store.start_run(run.id)
    store.log_params(run.id, {"embedding_dim": config["model"]["embedding_dim"], "lr": config["train"]["lr"]})
    for epoch, (a, l) in enumerate(zip(auc, logloss), start=1):
        store.log_metrics(run.id, {"valid.auc": a, "valid.logloss": l, "train.loss": l + 0.02}, step=epoch)
    if status == "finished":
        store.finish_run(run.id)
    elif status == "failed":
        store.fail_run(run.id, error="DataError: column 'rating' missing in train.csv")
    elif status == "interrupted":
        store.interrupt_run(run.id)
    return int(run.id)


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


def fill_store(store: Store) -> dict[str, int]:
    """Four runs (finished x2, failed, running), an analysis on run A, one registered model."""
    a = _run(store, CONFIG_A, AUC_A, LOGLOSS_A, "finished")
    b = _run(store, CONFIG_B, AUC_B, LOGLOSS_B, "finished")
    failed = _run(store, {**CONFIG_A, "name": "broken"}, [], [], "failed")
    running = _run(store, {**CONFIG_B, "name": "live"}, AUC_B[:1], LOGLOSS_B[:1], "running")
    analysis = store.run_dir(a) / "analysis.json"
    analysis.parent.mkdir(parents=True, exist_ok=True)
    analysis.write_text(json.dumps(ANALYSIS), encoding="utf-8")
    store.log_artifact(a, kind="analysis", path=analysis)
    store.register_model("ctr-lr", a, tags={"owner": "ops"})
    store.register_model("ctr-lr", b)
    store.record_dataset("ml100k-ctr", "3f2a9c0d11aa", {"train": 80000, "valid": 10000, "test": 10000})
    pin_timestamps(store.engine)
    return {"a": a, "b": b, "failed": failed, "running": running}


@pytest.fixture
def store(recforge_env: Path):
    """A fresh store under the test's RECFORGE_HOME."""
    s = Store.open()
    yield s
    s.close()


@pytest.fixture
def filled(store: Store) -> SimpleNamespace:
    """The fixed store contents plus the numbers tests check against."""
    ids = fill_store(store)
    return SimpleNamespace(
        store=store, ids=ids, auc_a=AUC_A, auc_b=AUC_B, logloss_a=LOGLOSS_A, logloss_b=LOGLOSS_B,
        config_a=CONFIG_A, config_b=CONFIG_B, analysis=ANALYSIS, t0=T0,
    )


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
    for name in ("recforge.db", "recforge.optuna.db"):  # the study's Optuna storage sits beside the store
        source, target = sqlite3.connect(real_store.home / name), sqlite3.connect(folder / name)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        engine = create_engine(f"sqlite:///{folder / name}")
        pin_timestamps(engine)
        engine.dispose()
    copy = folder / "recforge.db"
    return copy


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests run on asyncio (the anyio pytest plugin drives the async tests)."""
    return "asyncio"
