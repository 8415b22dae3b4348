"""Get-or-create writes lose a race to another process and still succeed (PostgreSQL).

The race is made deterministic: just before our transaction flushes its insert, a second
store (another "process") inserts the same row and commits, exactly what two trainers
preparing the same dataset at once do. The unique constraint rejects our insert; the write
must retry, find the winner's row and finish without an error or a duplicate.

SQLite cannot lose this race: every store transaction there starts with BEGIN IMMEDIATE, so
the read and the insert run under one write lock (a rival would wait, not interleave).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import uuid

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from recforge.core.store import Store
from recforge.core.store.conflicts import retry_on_conflict


@pytest.fixture
def url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def tag() -> str:
    """A name unique to this test: the PostgreSQL database is shared by the whole session."""
    return uuid.uuid4().hex[:10]


def _rival_writes_first(rival: Callable[[], object]) -> Iterator[None]:
    """Run ``rival`` once, inside the next flush of any session: it commits first and wins."""
    fired: list[bool] = []

    def before_flush(session: Session, *_: object) -> None:
        if session.new and not fired:
            fired.append(True)
            rival()

    event.listen(Session, "before_flush", before_flush)
    try:
        yield
    finally:
        event.remove(Session, "before_flush", before_flush)
    assert fired, "the rival never ran: the race was not exercised"


def test_record_dataset_after_losing_the_insert_race(url: str, tag: str) -> None:
    name = f"files:{tag}"
    with Store.open(url) as ours, Store.open(url) as theirs:
        race = _rival_writes_first(lambda: theirs.record_dataset(name, "fp1", {"rows": 1}))
        next(race)
        row = ours.record_dataset(name, "fp1", {"rows": 2})
        next(race, None)
        rows = [r for r in ours.list_datasets() if r.name == name]
    assert [(r.fingerprint, r.counts) for r in rows] == [("fp1", {"rows": 2})]
    assert row.counts == {"rows": 2}


def test_create_run_after_a_rival_created_the_experiment(url: str, tag: str) -> None:
    with Store.open(url) as ours, Store.open(url) as theirs:
        race = _rival_writes_first(lambda: theirs.create_run(tag, name="theirs", plugins={}))
        next(race)
        run = ours.create_run(tag, name="ours", plugins={})
        next(race, None)
        runs = ours.list_runs(experiment=tag)
    assert sorted(r.name for r in runs) == ["ours", "theirs"]
    assert run.experiment_name == tag


def test_register_model_after_a_rival_took_the_version(url: str, tag: str) -> None:
    with Store.open(url) as ours, Store.open(url) as theirs:
        run_ids = []
        for name in ("a", "b"):
            run = ours.create_run(tag, name=name, plugins={})
            ours.start_run(run.id)
            ours.finish_run(run.id)
            run_ids.append(run.id)
        race = _rival_writes_first(lambda: theirs.register_model(tag, run_ids[1]))
        next(race)
        mv = ours.register_model(tag, run_ids[0])
        next(race, None)
        versions = ours.list_models(tag)
    assert [(v.version, v.run_id) for v in versions] == [(1, run_ids[1]), (2, run_ids[0])]
    assert mv.version == 2


def test_text_cache_put_after_a_rival_cached_the_same_key(url: str, tag: str, tmp_path: Path) -> None:
    with Store.open(url) as ours, Store.open(url) as theirs:
        race = _rival_writes_first(lambda: theirs.text_cache_put(tag, str(tmp_path / "a.npy"), "m", 4, 10))
        next(race)
        ours.text_cache_put(tag, str(tmp_path / "b.npy"), "m", 4, 10)
        next(race, None)
        entry = ours.text_cache_get(tag)
    assert entry is not None and entry.path == str(tmp_path / "b.npy")


def test_retry_gives_up_after_the_attempts_and_raises_the_conflict() -> None:
    calls: list[int] = []

    def always_conflicts() -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("duplicate"))

    with pytest.raises(IntegrityError):
        retry_on_conflict(always_conflicts, attempts=3)
    assert len(calls) == 3
