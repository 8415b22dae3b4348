"""Taking over a run after its process died, and resetting its rows for an exact resume.

Part of :class:`~recforge.core.store.Store` (like the model registry mixin): kept apart from
the run lifecycle in ``repository.py`` so each module has one job. The methods need
``self.session()``, ``self._run()`` and ``self.get_run()`` from the store.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from recforge.core.errors import StoreError
from recforge.core.store import artifacts as files
from recforge.core.store import liveness
from recforge.core.store.tables import Artifact, Metric, Run, utcnow


def metric_rows(run_id: int, metrics: Mapping[str, Any], step: int) -> list[Metric]:
    """Metric rows for ``metrics`` at ``step``; NaN becomes NULL, a non-number a StoreError."""
    rows = []
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise StoreError(f"metric '{key}' of run {run_id} is {value!r}, not a number", fix="log numbers only") from None
        rows.append(Metric(run_id=int(run_id), key=str(key), value=None if math.isnan(number) else number, step=int(step)))
    return rows


class RecoveryMixin:
    """``release_dead_run`` and ``reset_epoch_metrics`` of the store."""

    def session(self) -> AbstractContextManager[Session]:  # provided by Store
        raise NotImplementedError

    def _run(self, session: Session, run_id: int) -> Run:  # provided by Store
        raise NotImplementedError

    def get_run(self, run_id: int) -> Run:  # provided by Store
        raise NotImplementedError

    def release_dead_run(self, run_id: int, *, force: bool = False) -> None:
        """Let ``resume`` take over a run left ``running``: fail it when its process is gone.

        The process is gone when it is known dead on this host (:func:`liveness.process_alive`),
        its heartbeat is older than :func:`stale_after_s`, or ``force`` says so. Otherwise a
        :class:`StoreError` says who runs it, when it becomes resumable and how to force it.
        """
        run = self.get_run(run_id)
        if run.status != "running":
            return
        marker = liveness.read_marker(files.run_dir(run_id))
        alive = liveness.process_alive(marker)
        from recforge.core.store.repository import STALE_ENV, stale_after_s

        timeout = stale_after_s()
        last = run.heartbeat_at or run.started_at or run.created_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=dt.timezone.utc)
        stale = last is None or utcnow() - last > dt.timedelta(seconds=timeout)
        if force or alive is False or (alive is None and stale):
            why = "resumed with --force" if force and alive is not False else "process died"
            with self.session() as session:
                session.execute(update(Run).where(Run.id == run.id, Run.status == "running")
                                .values(status="failed", error=f"{why} (pid {(marker or {}).get('pid', '?')})",
                                        ended_at=utcnow()))
            return
        who = f"pid {marker['pid']} on {marker['host']}" if marker else "a process (unknown pid)"
        if alive:
            raise StoreError(f"run {run_id} is still being trained by {who}, which is alive",
                             fix=f"stop that process first (kill {marker['pid']}) or wait for it to end" if marker
                             else "wait for it to end")
        until = (last + dt.timedelta(seconds=timeout)).strftime("%H:%M:%S UTC") if last else "now"
        raise StoreError(
            f"run {run_id} is running ({who}, last heartbeat {last:%H:%M:%S} UTC); it becomes resumable when "
            f"the heartbeat is {timeout:.0f} s old ({STALE_ENV}), at {until}",
            fix=f"if its process is gone, run `recforge resume {run_id} --force` now")

    def reset_epoch_metrics(self, run_id: int, history: list[dict[str, Any]]) -> None:
        """Make the run's metric rows exactly ``history`` (``[{"epoch": e, key: value}]``).

        A resumed run continues from its last complete checkpoint, whose history lists every
        epoch before it. Rows a killed attempt logged after that checkpoint, its final rows and
        its model artifact row are dropped, and rows it never got to write are restored, in one
        transaction: the resumed run ends with the rows of an uninterrupted one.
        """
        rows = [row for entry in history
                for row in metric_rows(run_id, {k: v for k, v in entry.items() if k != "epoch"}, int(entry["epoch"]))]
        with self.session() as session:
            self._run(session, run_id)
            session.execute(delete(Metric).where(Metric.run_id == int(run_id)))
            session.execute(delete(Artifact).where(Artifact.run_id == int(run_id), Artifact.kind == "model"))
            session.add_all(rows)

