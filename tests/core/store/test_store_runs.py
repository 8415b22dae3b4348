"""Run lifecycle, params, metrics, artifacts and deletion in the store (SQLite under RECFORGE_HOME)."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path

import pytest
from sqlalchemy import func, select

from recforge.core import paths
from recforge.core.errors import ArtifactError, NotFoundError, StoreError, UnknownNameError
from recforge.core.store import STALE_ERROR, Store
from recforge.core.store.tables import Artifact, Metric, Param, Run, as_utc


@pytest.fixture
def store() -> Store:
    with Store.open() as s:
        yield s


def _run(store: Store, experiment: str = "exp", **kw: object) -> Run:
    return store.create_run(experiment=experiment, name=kw.pop("name", "r"), plugins={}, **kw)  # type: ignore[arg-type]


def test_default_database_is_a_sqlite_file_under_home(store: Store) -> None:
    assert store.engine.url.database == str(paths.home() / "recforge.db")
    assert (paths.home() / "recforge.db").exists()


def test_create_run_records_provenance_and_integer_ids(store: Store) -> None:
    first = store.create_run(
        "ml100k", name="deepfm", config={"train": {"lr": 0.01}, "path": Path("/x")}, seed=7,
        dataset="files:abc", model_summary="deepfm/ctr", components={"fm": "builtin==0.1/1"}, plugins={"p": "1.0"},
    )
    second = _run(store, "ml100k")
    assert (first.id, second.id) == (1, 2)
    got = store.get_run(first.id)
    assert got.status == "created" and got.experiment_name == "ml100k"
    assert got.config == {"train": {"lr": 0.01}, "path": "/x"}  # JSON-safe copy
    assert (got.seed, got.dataset, got.model_summary) == (7, "files:abc", "deepfm/ctr")
    assert got.component_versions == {"fm": "builtin==0.1/1"} and got.plugin_versions == {"p": "1.0"}
    assert got.host and got.code_version.startswith("0.")
    assert store.experiments() == ["ml100k"]


def test_plugin_versions_default_to_the_loaded_plugins(store: Store) -> None:
    run = store.create_run("e")
    assert run.plugin_versions.get("recforge.plugins.encoders")


def test_lifecycle_and_transitions(store: Store) -> None:
    run = _run(store)
    started = store.start_run(run.id)
    assert started.status == "running" and started.started_at is not None and started.heartbeat_at is not None
    finished = store.finish_run(run.id)
    assert finished.status == "finished" and as_utc(finished.ended_at) >= as_utc(finished.started_at)
    assert finished.duration_s() is not None and finished.duration_s() >= 0
    with pytest.raises(StoreError, match="run 1 is finished and cannot become running"):
        store.start_run(run.id)
    other = _run(store)
    store.start_run(other.id)
    failed = store.fail_run(other.id, error="boom")
    assert (failed.status, failed.error) == ("failed", "boom")
    resumed = store.start_run(other.id)  # failed runs can be resumed; the error is cleared
    assert (resumed.status, resumed.error, resumed.ended_at) == ("running", None, None)
    assert store.interrupt_run(other.id).status == "interrupted"


def test_missing_run_message(store: Store) -> None:
    with pytest.raises(NotFoundError) as err:
        store.get_run(42)
    assert str(err.value) == "run 42 does not exist; see `recforge runs list`"
    for call in (lambda: store.start_run(42), lambda: store.log_metrics(42, {"a": 1}), lambda: store.delete_run(42)):
        with pytest.raises(NotFoundError, match="run 42 does not exist"):
            call()


def test_params_roundtrip_and_replace(store: Store) -> None:
    run = _run(store)
    store.log_params(run.id, {"lr": 0.1, "hidden": [64, 32], "name": "x", "flag": True})
    store.log_params(run.id, {"lr": 0.2})
    assert store.get_run(run.id).params_dict == {"flag": True, "hidden": [64, 32], "lr": 0.2, "name": "x"}


def test_metrics_history_latest_and_nan(store: Store) -> None:
    run = _run(store)
    store.log_metrics(run.id, {"valid.auc": 0.70, "loss": 0.9}, step=1)
    store.log_metrics(run.id, {"valid.auc": 0.75, "loss": float("nan")}, step=2)
    store.log_metrics(run.id, {"test.auc": 0.74}, step=0)
    history = store.get_metrics(run.id, key="valid.auc")
    assert [(m.step, m.value) for m in history] == [(1, 0.70), (2, 0.75)]
    latest = store.latest_metrics(run.id)
    assert latest["valid.auc"] == 0.75 and latest["test.auc"] == 0.74 and math.isnan(latest["loss"])
    with pytest.raises(StoreError, match="metric 'bad' of run 1 is 'x', not a number"):
        store.log_metrics(run.id, {"bad": "x"})


def test_artifact_checksums_file_and_folder(store: Store, tmp_path: Path) -> None:
    run = _run(store)
    file = tmp_path / "a.txt"
    file.write_bytes(b"hello")
    art = store.log_artifact(run.id, kind="predictions", path=file)
    assert art.sha256 == hashlib.sha256(b"hello").hexdigest() and art.size == 5
    folder = store.run_dir(run.id) / "model"
    folder.mkdir()
    (folder / "b.bin").write_bytes(b"xy")
    (folder / "a.json").write_bytes(b"{}")
    expected = hashlib.sha256()
    for rel, data in (("a.json", b"{}"), ("b.bin", b"xy")):
        expected.update(f"{rel}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    art2 = store.log_artifact(run.id, kind="model", path=folder)
    assert (art2.sha256, art2.size) == (expected.hexdigest(), 4)
    assert [a.kind for a in store.get_run(run.id).artifacts] == ["predictions", "model"]
    with pytest.raises(ArtifactError, match="does not exist"):
        store.log_artifact(run.id, kind="model", path=tmp_path / "missing")


def test_delete_run_removes_rows_and_folder_and_cascades_models(store: Store, tmp_path: Path) -> None:
    keep, gone = _run(store), _run(store)
    for run in (keep, gone):
        store.log_params(run.id, {"a": 1})
        store.log_metrics(run.id, {"m": 1.0})
        (store.run_dir(run.id) / "f").write_text("x")
        store.log_artifact(run.id, "model", store.run_dir(run.id) / "f")
    store.start_run(gone.id)
    store.finish_run(gone.id)
    store.register_model("m", gone.id)
    with pytest.raises(StoreError, match=r"registered model versions m v1 \(none\).*--cascade"):
        store.delete_run(gone.id)  # refused: the version's weights live in the run's folder
    assert (paths.artifacts_dir() / "runs" / str(gone.id) / "f").exists()
    assert [mv.name for mv in store.delete_run(gone.id, cascade=True)] == ["m"]
    assert not (paths.artifacts_dir() / "runs" / str(gone.id)).exists()
    assert (paths.artifacts_dir() / "runs" / str(keep.id) / "f").exists()
    with store.session() as session:
        for table in (Param, Metric, Artifact):
            counts = dict(session.execute(select(table.run_id, func.count()).group_by(table.run_id)).all())
            assert counts == {keep.id: 1}
    assert [r.id for r in store.list_runs()] == [keep.id]
    assert store.list_models() == []  # deregistered with its run: no version without weights


def test_returned_objects_usable_after_session_closes(store: Store) -> None:
    run = _run(store)
    store.log_params(run.id, {"a": 1})
    store.log_metrics(run.id, {"m": 0.5})
    listed = store.list_runs()[0]
    store.close()
    assert listed.experiment_name == "exp" and listed.params_dict == {"a": 1}
    assert [m.value for m in listed.metrics] == [0.5] and listed.artifacts == []


def test_list_runs_filters(store: Store) -> None:
    a, b, c = _run(store, "x"), _run(store, "y"), _run(store, "x")
    store.start_run(c.id)
    assert [r.id for r in store.list_runs()] == [c.id, b.id, a.id]
    assert [r.id for r in store.list_runs(experiment="x")] == [c.id, a.id]
    assert [r.id for r in store.list_runs(experiment="x", status="running")] == [c.id]
    assert store.list_runs(experiment="nope") == []
    with pytest.raises(UnknownNameError, match="did you mean 'running'"):
        store.list_runs(status="runing")


def test_mark_stale_runs(store: Store) -> None:
    stale, alive, done = _run(store), _run(store), _run(store)
    for run in (stale, alive, done):
        store.start_run(run.id)
    store.finish_run(done.id)
    with store.session() as session:
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        session.get(Run, stale.id).heartbeat_at = old
        session.get(Run, done.id).heartbeat_at = old
    store.heartbeat(alive.id)
    assert store.mark_stale_runs(timeout_s=600) == [stale.id]
    got = store.get_run(stale.id)
    assert (got.status, got.error) == ("failed", STALE_ERROR) and got.ended_at is not None
    assert store.get_run(alive.id).status == "running" and store.get_run(done.id).status == "finished"
    assert store.mark_stale_runs(timeout_s=600) == []


def test_foreign_keys_and_wal_are_on(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000


def test_recforge_db_env_selects_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "other" / "custom.db"
    monkeypatch.setenv("RECFORGE_DB", f"sqlite:///{target}")
    with Store.open() as s:
        _run(s)
    assert target.exists() and not (paths.home() / "recforge.db").exists()


def test_bad_url_is_a_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECFORGE_DB", "not a url")
    with pytest.raises(StoreError, match="'not a url' is not a database URL; set RECFORGE_DB"):
        Store.open()
