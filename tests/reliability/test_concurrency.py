"""Two training processes write one store while the console's service layer reads it.

For SQLite (WAL, ``BEGIN IMMEDIATE``, busy timeout) and PostgreSQL (skipped when no server
answers): no process may see a lock error, and no metric row may be lost. Counts are exact:

* real ``recforge train`` runs log ``len(history keys)`` rows per epoch plus the final valid
  and test metrics, which the JSON result tells us;
* two write-hammer processes log ``ROUNDS`` batches of ``KEYS`` metrics each as fast as they
  can, with a heartbeat per batch, to make lock contention certain.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import base_config, finish, last_json, recforge, spawn, write_splits

ROUNDS, KEYS = 150, 4

HAMMER = f"""
import sys
from recforge.core.store import Store
with Store.open() as store:
    run = store.create_run(experiment="hammer", name=sys.argv[1])
    store.start_run(run.id)
    for step in range({ROUNDS}):
        store.log_metrics(run.id, {{f"m{{k}}": step + k / 10 for k in range({KEYS})}}, step=step)
        store.heartbeat(run.id)
    store.finish_run(run.id)
print(run.id)
"""


class Reader(threading.Thread):
    """The console's service calls in a loop until stopped; records every exception."""

    def __init__(self, url: str | None) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.reads, self.errors = url, threading.Event(), 0, []

    def run(self) -> None:
        from recforge.services.runs import list_run_rows, run_detail
        from recforge.core.store import Store

        with Store.open(self.url) as store:
            while not self.stop.is_set():
                try:
                    for row in list_run_rows(store):
                        run_detail(store, row.id)
                    self.reads += 1
                except Exception as err:  # noqa: BLE001 - the test asserts there are none
                    self.errors.append(f"{type(err).__name__}: {err}")
                time.sleep(0.01)


def _count_metrics(url: str | None, run_id: int) -> int:
    from recforge.core.store import Store

    with Store.open(url) as store:
        return len(store.get_metrics(run_id))


def _backend(request: pytest.FixtureRequest, home: Path) -> tuple[str | None, dict[str, str]]:
    if request.param == "sqlite":
        return None, {}
    url = request.getfixturevalue("postgres_url")
    return url, {"RECFORGE_DB": url}


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str | None, dict[str, str]]:
    url, env = _backend(request, tmp_path)
    if url:
        monkeypatch.setenv("RECFORGE_DB", url)
    return url, env


def _run_with_reader(url: str | None, procs: list[Any]) -> tuple[Reader, list[tuple[int, str, str]]]:
    reader = Reader(url)
    reader.start()
    try:
        results = [finish(p) for p in procs]
    finally:
        reader.stop.set()
        reader.join(timeout=60)
    return reader, results


@pytest.mark.slow
def test_hammering_writers_lose_no_rows(backend: tuple[str | None, dict[str, str]], tmp_path: Path) -> None:
    url, env = backend
    home = Path(os.environ["RECFORGE_HOME"])
    from recforge.core.store import Store

    with Store.open(url):  # migrate once before the writers race
        pass
    procs = [spawn(home, "-c", HAMMER, name, env=env) for name in ("a", "b")]
    reader, results = _run_with_reader(url, procs)
    for code, out, err in results:
        assert code == 0 and "locked" not in err, err
    assert reader.errors == [] and reader.reads > 0
    for _, out, _ in results:
        assert _count_metrics(url, int(out.strip().splitlines()[-1])) == ROUNDS * KEYS


@pytest.mark.slow
def test_two_trainers_and_the_console_lose_no_rows(backend: tuple[str | None, dict[str, str]], tmp_path: Path) -> None:
    url, env = backend
    home = Path(os.environ["RECFORGE_HOME"])
    import yaml

    config = base_config(write_splits(tmp_path / "data", rows=3000), epochs=3)
    config["train"]["batch_size"] = 128
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    from recforge.core.store import Store

    with Store.open(url):
        pass
    _prewarm(config)
    procs = [recforge(home, "train", str(path), "--name", name, "--json", env=env) for name in ("left", "right")]
    reader, results = _run_with_reader(url, procs)
    assert reader.errors == [] and reader.reads > 0
    for code, out, err in results:
        assert code == 0 and "locked" not in err, err
        result = last_json(out)
        per_epoch = 1 + len(result["valid"])  # train.loss + every validation metric
        expected = result["epochs_run"] * per_epoch + len(result["valid"]) + len(result["test"])
        assert result["epochs_run"] == 3 and _count_metrics(url, result["run_id"]) == expected


def _prewarm(config: dict[str, Any]) -> None:
    """Write the prepared-data cache once, so the trainers below race only on the store
    (their race on the cache folder is its own test: ``test_two_processes_write_one_cache``)."""
    from recforge.core.data import prepare_data

    prepare_data(config["data"])


def test_two_processes_write_one_cache(tmp_path: Path) -> None:
    """Deterministic replay of a race seen with two trainers: the other process finishes
    writing the same cache folder while this one is still writing its temporary copy."""
    from recforge.core.data import prepare
    from recforge.core.data.prepare import prepare_data, write_cache

    prepared = prepare_data(base_config(write_splits(tmp_path / "data"))["data"], use_cache=False)
    real_save = prepared.featuremap.save
    racing = {"done": False}

    def save(path: Any) -> None:
        if not racing["done"]:
            racing["done"] = True
            write_cache(prepared)  # the other process wins the race
        real_save(path)

    prepared.featuremap.save = save  # type: ignore[method-assign]
    written = write_cache(prepared)
    assert written == prepare.paths.cache_dir("prepared") / prepared.fingerprint and written.is_dir()
    assert not list(written.parent.glob(".tmp-*"))
