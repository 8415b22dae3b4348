"""ORM tables of the run store (SQLAlchemy 2 typed declarative mapping).

The migrations in ``recforge/migrations/versions`` create exactly this schema; a test compares
the two with Alembic's autogenerate, so a change here needs a new migration. Constraints get
deterministic names from :data:`NAMING_CONVENTION` so migrations can address them on every
backend (SQLite batch mode needs names to drop or alter constraints).

Objects returned by :class:`recforge.core.store.Store` are detached from their session, so
relationships a caller may read are loaded eagerly by the repository.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES: tuple[str, ...] = ("created", "running", "finished", "failed", "interrupted", "pruned")
#: states of a hyperparameter-search trial (``recforge tune``)
TRIAL_STATES: tuple[str, ...] = ("running", "complete", "pruned", "failed")
MODEL_STAGES: tuple[str, ...] = ("none", "staging", "production", "archived")


def utcnow() -> dt.datetime:
    """Timezone-aware now in UTC; every timestamp in the store is UTC."""
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timestamps back naive; they were written in UTC, so say so."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Experiment(Base):
    """A named group of runs (e.g. one benchmark task)."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Run(Base):
    """One training/evaluation run with its provenance and lifecycle."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(RUN_STATUSES)})", name="status"),
        Index(None, "experiment_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="created")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column()
    ended_at: Mapped[dt.datetime | None] = mapped_column()
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column()
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255), default="")
    code_version: Mapped[str] = mapped_column(String(100), default="")
    plugin_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    component_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dataset: Mapped[str] = mapped_column(String(500), default="")
    model_summary: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str | None] = mapped_column(Text)

    experiment: Mapped[Experiment] = relationship(lazy="joined")
    params: Mapped[list[Param]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True, order_by="Param.key"
    )
    metrics: Mapped[list[Metric]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="[Metric.key, Metric.step, Metric.id]",
    )
    artifacts: Mapped[list[Artifact]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True, order_by="Artifact.id"
    )

    @property
    def experiment_name(self) -> str:
        return self.experiment.name

    @property
    def params_dict(self) -> dict[str, Any]:
        """Params as ``{key: value}`` (values decoded from JSON)."""
        return {p.key: p.decoded for p in self.params}

    def duration_s(self) -> float | None:
        """Seconds between start and end (or the last heartbeat while running)."""
        start = as_utc(self.started_at)
        end = as_utc(self.ended_at or self.heartbeat_at)
        return None if start is None or end is None else (end - start).total_seconds()


class Param(Base):
    """A run parameter; the value is stored as JSON text so any plain value round-trips."""

    __tablename__ = "params"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)

    run: Mapped[Run] = relationship(back_populates="params")

    @property
    def decoded(self) -> Any:
        import json

        return json.loads(self.value)


class Metric(Base):
    """One metric value of a run at a step (epoch); ``value`` None stands for NaN."""

    __tablename__ = "metrics"
    __table_args__ = (Index(None, "run_id", "key", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(250))
    value: Mapped[float | None] = mapped_column(Float)
    step: Mapped[int] = mapped_column(Integer, default=0)
    timestamp: Mapped[dt.datetime] = mapped_column(default=utcnow)

    run: Mapped[Run] = relationship(back_populates="metrics")

    @property
    def float_value(self) -> float:
        return math.nan if self.value is None else self.value


class Artifact(Base):
    """A file or folder a run produced (model, predictions, plots), with its checksum."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    run: Mapped[Run] = relationship(back_populates="artifacts")


class ModelVersion(Base):
    """A registered model version: a name, a version number, its source run and a stage."""

    __tablename__ = "registered_models"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        CheckConstraint(f"stage IN ({_in(MODEL_STAGES)})", name="stage"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    stage: Mapped[str] = mapped_column(String(16), default="none")
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Dataset(Base):
    """A prepared dataset seen by some run: its fingerprint and row/vocabulary counts."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(128))
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TextCacheEntry(Base):
    """Index of the persistent text-vector cache: which file holds the vectors for a key."""

    __tablename__ = "text_cache"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(500))
    dim: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Study(Base):
    """A hyperparameter search (``recforge tune``): its base config, search space and metric.

    Optuna keeps its sampler state in its own tables (see :mod:`recforge.tune.storage`); this
    table and :class:`StudyTrial` are the store's record of which run each trial was.
    """

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    metric: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(String(8))
    sampler: Mapped[str] = mapped_column(String(16))
    pruner: Mapped[str] = mapped_column(String(16))
    config_path: Mapped[str] = mapped_column(Text, default="")
    overrides: Mapped[list[str]] = mapped_column(JSON, default=list)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    space: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StudyTrial(Base):
    """One trial of a study: its number, sampled params, state, value and the run it trained."""

    __tablename__ = "study_trials"
    __table_args__ = (
        UniqueConstraint("study_id", "number"),
        CheckConstraint(f"state IN ({_in(TRIAL_STATES)})", name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="running")
    value: Mapped[float | None] = mapped_column(Float)
    worker: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column()
