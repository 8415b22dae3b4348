"""The store's record of studies and trials (tables ``studies`` and ``study_trials``).

Optuna's own storage drives the sampler; these rows are what recforge shows and exports: which
run each trial trained, its params, its state (running / complete / pruned / failed) and its
value. They live in the run store so that ``runs`` and ``studies`` join on one database.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from recforge.core.errors import NotFoundError
from recforge.core.store.conflicts import retry_on_conflict
from recforge.core.store.tables import Study, StudyTrial, utcnow


@dataclass(frozen=True)
class StudySettings:
    """What a study was created with; resuming it must not change any of it."""

    name: str
    metric: str
    direction: str
    sampler: str
    pruner: str
    config_path: str
    overrides: list[str]
    config: dict[str, Any]
    space: dict[str, Any]


def get_study(store: Any, name: str) -> Study:
    with store.session() as session:
        study = session.scalars(select(Study).where(Study.name == name)).first()
    if study is None:
        raise NotFoundError(f"study '{name}' does not exist", fix="see `recforge studies list`")
    return study


def find_study(store: Any, name: str) -> Study | None:
    with store.session() as session:
        return session.scalars(select(Study).where(Study.name == name)).first()


def create_study(store: Any, settings: StudySettings) -> Study:
    """The study's row; another worker creating it at the same moment is fine."""
    def write() -> Study:
        found = find_study(store, settings.name)
        if found is not None:
            return found
        with store.session() as session:
            study = Study(**settings.__dict__)
            session.add(study)
        return study

    return retry_on_conflict(write)


def list_studies(store: Any) -> list[Study]:
    with store.session() as session:
        return list(session.scalars(select(Study).order_by(Study.id)))


def trials(store: Any, study_id: int) -> list[StudyTrial]:
    with store.session() as session:
        query = select(StudyTrial).where(StudyTrial.study_id == study_id).order_by(StudyTrial.number)
        return list(session.scalars(query))


def start_trial(store: Any, study_id: int, number: int, params: dict[str, Any]) -> None:
    """The trial's row, ``running``, naming the worker (``host:pid``) that took it."""
    with store.session() as session:
        session.add(StudyTrial(study_id=study_id, number=number, params=params, state="running",
                               worker=f"{socket.gethostname()}:{os.getpid()}"))


def end_trial(store: Any, study_id: int, number: int, state: str, value: float | None, run_id: int | None) -> None:
    with store.session() as session:
        row = session.scalars(select(StudyTrial).where(StudyTrial.study_id == study_id,
                                                       StudyTrial.number == number)).one()
        row.state, row.value, row.run_id, row.ended_at = state, value, run_id, utcnow()


def fail_abandoned(store: Any, study_id: int, failed_numbers: set[int]) -> None:
    """Trials Optuna found dead (no heartbeat: the worker was killed) end ``failed`` here too."""
    if not failed_numbers:
        return
    with store.session() as session:
        rows = session.scalars(select(StudyTrial).where(StudyTrial.study_id == study_id,
                                                        StudyTrial.state == "running",
                                                        StudyTrial.number.in_(failed_numbers)))
        for row in rows:
            row.state, row.ended_at = "failed", utcnow()


def best_trial(store: Any, study: Study) -> StudyTrial:
    """The complete trial with the best value (ties: the earliest)."""
    done = [t for t in trials(store, study.id) if t.state == "complete" and t.value is not None]
    if not done:
        raise NotFoundError(f"study '{study.name}' has no complete trial yet",
                            fix=f"run `recforge tune --study {study.name} --trials N`")
    sign = 1.0 if study.direction == "maximize" else -1.0
    return max(done, key=lambda t: (sign * float(t.value or 0.0), -t.number))
