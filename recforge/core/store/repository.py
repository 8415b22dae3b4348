"""The :class:`Store`: the one repository API the trainer, the CLI and the console use.

Every method opens a short transaction and returns plain ORM objects that are detached from
their session with everything a caller reads already loaded, so they stay usable after the
call returns (``run.params``, ``run.metrics``, ``run.artifacts``, ``run.experiment_name``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload

from recforge.core.errors import NotFoundError, StoreError, unknown_name
from recforge.core.store import artifacts as files
from recforge.core.store import limits, liveness, provenance
from recforge.core.store.conflicts import retry_on_conflict
from recforge.core.store.dependents import DependentModelsError
from recforge.core.store.engine import (
    database_url,
    is_read_only,
    make_engine,
    make_session_factory,
    redact,
)
from recforge.core.store.limits import row_id
from recforge.core.store.model_registry import ModelRegistryMixin
from recforge.core.store.recovery import RecoveryMixin, metric_rows
from recforge.core.store.reported import reported_values
from recforge.core.store.schema_check import ensure_schema
from recforge.core.store.tables import (
    RUN_STATUSES,
    Artifact,
    Experiment,
    Metric,
    ModelVersion,
    Param,
    Run,
    utcnow,
)
from recforge.core.store.write_errors import write_failure

#: allowed source statuses of each lifecycle transition
_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "running": ("created", "interrupted", "failed"),
    "finished": ("created", "running"),
    "failed": ("created", "running", "interrupted"),
    "interrupted": ("created", "running"),
    "pruned": ("running",),
}
STALE_ERROR = "process died (no heartbeat)"
#: env var overriding :data:`STALE_AFTER_S`
STALE_ENV = "RECFORGE_STALE_AFTER_S"
#: a ``running`` run silent this long counts as dead. The trainer beats every 10 s while
#: stepping and after every epoch; five minutes leaves room for a long validation pass.
STALE_AFTER_S = 300.0


def stale_after_s() -> float:
    """Seconds without a heartbeat after which ``recforge runs list`` marks a run failed."""
    raw = os.environ.get(STALE_ENV, "").strip()
    if not raw:
        return STALE_AFTER_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or math.isinf(value):
        raise StoreError(f"{STALE_ENV}={raw!r} is not a positive number of seconds",
                         fix=f"unset {STALE_ENV} or set it to e.g. 300")
    return value


def to_json_safe(value: Any) -> Any:
    """A JSON round-trip of ``value``; paths and other objects become strings."""
    return json.loads(json.dumps(value, default=str))


class Store(ModelRegistryMixin, RecoveryMixin):
    """Runs, metrics, artifacts, registered models, datasets and the text-cache index."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = make_session_factory(engine)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str | None = None, *, check_schema: bool = True) -> Store:
        """Open ``url`` (default ``RECFORGE_DB`` or the SQLite file under ``RECFORGE_HOME``).

        An empty database is migrated to the current schema; one behind the code raises
        :class:`StoreError` asking for ``recforge db upgrade``.
        """
        engine = make_engine(database_url(url))
        if check_schema:
            try:
                ensure_schema(engine)
            except BaseException:
                engine.dispose()
                raise
        return cls(engine)

    @property
    def read_only(self) -> bool:
        """Opened read-only (a SQLite file on a read-only mount): reads work, writes are refused."""
        return is_read_only(self.engine.url)

    @property
    def where(self) -> str:
        """The store for messages: the SQLite file path, else the redacted URL."""
        url = self.engine.url
        return (url.database or "").removeprefix("file:") if url.get_backend_name() == "sqlite" else self.url

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return redact(str(self.engine.url))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction that commits on success and rolls back on error."""
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as err:
            raise write_failure(err, self.where) or err from None

    # ------------------------------------------------------------------ runs
    def _run(self, session: Session, run_id: int) -> Run:
        run = session.get(Run, row_id(run_id, "run"))
        if run is None:
            raise NotFoundError(f"run {run_id} does not exist", fix="see `recforge runs list`")
        return run

    def create_run(
        self,
        experiment: str,
        name: str = "",
        config: Mapping[str, Any] | None = None,
        seed: int | None = None,
        dataset: str = "",
        model_summary: str = "",
        components: Mapping[str, str] | None = None,
        plugins: Mapping[str, str] | None = None,
    ) -> Run:
        """Create a run in status ``created`` (the experiment is created on first use).

        Host and code version are recorded here; ``plugins`` defaults to the versions of the
        plugins loaded in this process.
        """
        if not experiment or not str(experiment).strip():
            raise StoreError("a run needs an experiment name", fix="set `experiment:` in the config")
        limits.check_run_texts(experiment, name, dict(config or {}))
        plugin_versions = dict(plugins) if plugins is not None else provenance.plugin_versions()

        def write() -> Run:
            with self.session() as session:
                exp = session.scalar(select(Experiment).where(Experiment.name == experiment))
                if exp is None:
                    exp = Experiment(name=experiment)
                    session.add(exp)
                run = Run(
                    experiment=exp, name=name, status="created", config=to_json_safe(dict(config or {})),
                    seed=seed, host=provenance.host(), code_version=provenance.code_version(),
                    plugin_versions=to_json_safe(plugin_versions),
                    component_versions=to_json_safe(dict(components or {})),
                    dataset=dataset, model_summary=model_summary, params=[], metrics=[], artifacts=[],
                )
                session.add(run)
            return run

        # a concurrent writer may create the experiment between our read and our insert
        return retry_on_conflict(write)

    def _transition(self, run_id: int, status: str, **fields: Any) -> Run:
        with self.session() as session:
            run = self._run(session, run_id)
            # a run only *presumed* dead (no heartbeat) may still end normally: it was just slow
            presumed_dead = run.status == "failed" and run.error == STALE_ERROR
            if run.status not in _TRANSITIONS[status] and not presumed_dead:
                raise StoreError(
                    f"run {run_id} is {run.status} and cannot become {status}",
                    fix=f"only runs that are {' or '.join(_TRANSITIONS[status])} can",
                )
            run.status = status
            for key, value in fields.items():
                setattr(run, key, value)
        return self.get_run(run_id)

    def start_run(self, run_id: int) -> Run:
        """Mark a run running (also resumes an interrupted or failed one).

        The calling process is recorded in the run's folder (:mod:`.liveness`), so a run whose
        process died can be resumed at once (:meth:`release_dead_run`).
        """
        now = utcnow()
        run = self._transition(run_id, "running", started_at=now, heartbeat_at=now, ended_at=None, error=None)
        liveness.write_marker(files.run_dir(run_id))
        return run

    def finish_run(self, run_id: int) -> Run:
        return self._transition(run_id, "finished", ended_at=utcnow())

    def fail_run(self, run_id: int, error: str) -> Run:
        return self._transition(run_id, "failed", ended_at=utcnow(), error=error)

    def interrupt_run(self, run_id: int) -> Run:
        return self._transition(run_id, "interrupted", ended_at=utcnow())

    def prune_run(self, run_id: int, reason: str) -> Run:
        """A search (``recforge tune``) stopped this run early as hopeless; ``reason`` says why."""
        return self._transition(run_id, "pruned", ended_at=utcnow(), error=reason)

    def heartbeat(self, run_id: int) -> None:
        """Record that the run's process is alive (see :meth:`mark_stale_runs`).

        A run that :meth:`mark_stale_runs` presumed dead is revived: the beat proves otherwise.
        """
        with self.session() as session:
            run = self._run(session, run_id)
            run.heartbeat_at = utcnow()
            if run.status == "failed" and run.error == STALE_ERROR:
                run.status, run.error, run.ended_at = "running", None, None

    def mark_stale_runs(self, timeout_s: float) -> list[int]:
        """Fail ``running`` runs whose last heartbeat is older than ``timeout_s``; return their ids."""
        cutoff = utcnow() - dt.timedelta(seconds=timeout_s)
        last_seen = func.coalesce(Run.heartbeat_at, Run.started_at, Run.created_at)
        with self.session() as session:
            ids = list(session.scalars(select(Run.id).where(Run.status == "running", last_seen < cutoff)))
            if ids:
                session.execute(
                    update(Run).where(Run.id.in_(ids)).values(status="failed", error=STALE_ERROR, ended_at=utcnow())
                )
        return sorted(ids)

    def log_params(self, run_id: int, params: Mapping[str, Any]) -> None:
        """Store params (values as JSON); logging a key again replaces its value."""
        with self.session() as session:
            self._run(session, run_id)
            for key, value in params.items():
                session.merge(Param(run_id=int(run_id), key=str(key), value=json.dumps(to_json_safe(value))))

    def log_metrics(self, run_id: int, metrics: Mapping[str, float], step: int = 0) -> None:
        """Append metric values at ``step``; NaN is stored as NULL (SQLite cannot keep NaN)."""
        rows = metric_rows(run_id, metrics, step)
        with self.session() as session:
            self._run(session, run_id)
            session.add_all(rows)

    def log_artifact(self, run_id: int, kind: str, path: str | Path) -> Artifact:
        """Record a file or folder the run produced, with its sha256 and size."""
        resolved = Path(path).expanduser().resolve()
        sha, size = files.checksum(resolved)
        with self.session() as session:
            self._run(session, run_id)
            artifact = Artifact(run_id=int(run_id), kind=kind, path=str(resolved), sha256=sha, size=size)
            session.add(artifact)
        return artifact

    def _run_query(self) -> Any:
        return select(Run).options(
            selectinload(Run.params), selectinload(Run.metrics), selectinload(Run.artifacts)
        )

    def list_runs(self, experiment: str | None = None, status: str | None = None,
                  stale_after_s: float | None = None) -> list[Run]:
        """Runs, newest first, optionally of one experiment and/or status.

        With ``stale_after_s``, ``running`` runs silent that long are first marked failed
        (:meth:`mark_stale_runs`), so a killed trainer never shows as running forever.
        """
        if status is not None and status not in RUN_STATUSES:
            raise unknown_name("run status", status, RUN_STATUSES, fix=f"use one of {', '.join(RUN_STATUSES)}")
        if stale_after_s is not None and not self.read_only:
            self.mark_stale_runs(stale_after_s)
        query = self._run_query().order_by(Run.id.desc())
        if experiment is not None:
            query = query.join(Run.experiment).where(Experiment.name == experiment)
        if status is not None:
            query = query.where(Run.status == status)
        with self.session() as session:
            return list(session.scalars(query).unique())

    def get_run(self, run_id: int) -> Run:
        """The run with params, metrics and artifacts loaded; :class:`NotFoundError` if missing."""
        with self.session() as session:
            run = session.scalars(self._run_query().where(Run.id == row_id(run_id, "run"))).first()
            if run is None:
                raise NotFoundError(f"run {run_id} does not exist", fix="see `recforge runs list`")
            return run

    def dependent_models(self, run_id: int) -> list[ModelVersion]:
        """Registered model versions whose weights are ``run_id``'s saved model."""
        with self.session() as session:
            self._run(session, run_id)
            query = select(ModelVersion).where(ModelVersion.run_id == int(run_id))
            return list(session.scalars(query.order_by(ModelVersion.name, ModelVersion.version)))

    def delete_run(self, run_id: int, *, cascade: bool = False) -> list[ModelVersion]:
        """Delete the run's rows (params, metrics, artifacts) and its artifact folder.

        A registered model version serves the run's saved model, so deleting the run would
        leave a version (maybe in production) whose weights are gone. Such a delete raises
        :class:`DependentModelsError` naming the versions, unless ``cascade`` is set: then the
        versions are deregistered in the same transaction and returned. The CLI, the console
        and the API all come through here, so they share the rule.
        """
        with self.session() as session:
            run = self._run(session, run_id)
            query = select(ModelVersion).where(ModelVersion.run_id == run.id)
            versions = list(session.scalars(query.order_by(ModelVersion.name, ModelVersion.version)))
            if versions and not cascade:
                raise DependentModelsError(run.id, versions)
            for mv in versions:
                session.delete(mv)
            for table in (Param, Metric, Artifact):
                session.execute(delete(table).where(table.run_id == run.id))
            session.delete(run)
        files.remove_run_dir(int(run_id))
        return versions

    def get_metrics(self, run_id: int, key: str | None = None) -> list[Metric]:
        """All metric values of a run ordered by key, step and logging order."""
        query = select(Metric).where(Metric.run_id == row_id(run_id, "run")).order_by(Metric.key, Metric.step, Metric.id)
        if key is not None:
            query = query.where(Metric.key == key)
        with self.session() as session:
            self._run(session, run_id)
            return list(session.scalars(query))

    def reported_metrics(self, run_id: int) -> dict[str, float]:
        """``{key: value}`` as the run reports it: at its final evaluation's step when it has one
        (:mod:`recforge.core.store.reported`), else each key's latest value."""
        series: dict[str, list[tuple[int, float]]] = {}
        for metric in self.get_metrics(run_id):  # ordered by key and step
            series.setdefault(metric.key, []).append((int(metric.step), metric.float_value))
        return reported_values(series)

    def latest_metrics(self, run_id: int) -> dict[str, float]:
        """``{key: value}`` at each key's highest step (the last one logged on ties)."""
        latest: dict[str, float] = {}
        for metric in self.get_metrics(run_id):  # ordered, so the last write per key wins
            latest[metric.key] = metric.float_value
        return latest

    def experiments(self) -> list[str]:
        with self.session() as session:
            return list(session.scalars(select(Experiment.name).order_by(Experiment.name)))

    def run_dir(self, run_id: int) -> Path:
        """Folder for the run's artifacts (removed by :meth:`delete_run`).

        Unknown runs raise :class:`NotFoundError` instead of creating a stray folder, so every
        command that reaches a run's files through here names a mistyped run id.
        """
        with self.session() as session:
            self._run(session, run_id)
        return files.run_dir(run_id)

    def artifact_path(self, run_id: int, name: str) -> Path:
        """Path for an artifact called ``name`` inside the run's folder (never outside it)."""
        return files.confined(self.run_dir(run_id), name)

    def find_runs(self, text: str) -> list[Run]:
        """Runs whose name, experiment or model summary contains ``text`` (console search)."""
        pattern = f"%{text}%"
        query = (
            self._run_query().join(Run.experiment)
            .where(or_(Run.name.ilike(pattern), Experiment.name.ilike(pattern), Run.model_summary.ilike(pattern)))
            .order_by(Run.id.desc())
        )
        with self.session() as session:
            return list(session.scalars(query).unique())
