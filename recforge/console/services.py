"""What the console shows, read from the same store and registry the CLI uses.

Screens never touch ORM objects: they get the plain, frozen views below, built here in one
place, so a change in the store's internals touches one module and the views can be compared
in tests. Actions (delete, register, export, promote, ...) call the store's repository API.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from recforge.core.errors import ArtifactError, ConfigError, NotFoundError
from recforge.core.store import Store

#: metrics shown as columns of the runs table, in order of preference
KEY_METRICS: tuple[str, ...] = ("valid.auc", "valid.logloss", "valid.ndcg@10", "valid.rmse", "test.auc")


@dataclass(frozen=True)
class RunRow:
    """One line of the runs table."""

    id: int
    name: str
    experiment: str
    status: str
    dataset: str
    model_summary: str
    metrics: dict[str, float]
    started_at: dt.datetime | None
    duration_s: float | None


@dataclass(frozen=True)
class ArtifactView:
    """A file a run produced."""

    kind: str
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RunDetail:
    """Everything the run-detail screen shows."""

    row: RunRow
    config: dict[str, Any]
    params: dict[str, Any]
    series: dict[str, list[tuple[int, float]]]
    artifacts: list[ArtifactView]
    plugin_versions: dict[str, Any]
    component_versions: dict[str, Any]
    seed: int | None
    host: str
    error: str | None
    analysis: dict[str, Any] | None = None


@dataclass(frozen=True)
class ModelRow:
    """One registered model version."""

    name: str
    version: int
    run_id: int | None
    stage: str
    tags: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class DatasetRow:
    """A prepared dataset recorded in the store."""

    name: str
    fingerprint: str
    counts: dict[str, Any]


def open_store() -> Store:
    """The store the CLI uses (``RECFORGE_DB`` or the SQLite file under ``RECFORGE_HOME``)."""
    return Store.open()


def _metric_value(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _row(run: Any, metrics: dict[str, float]) -> RunRow:
    return RunRow(
        id=int(run.id),
        name=run.name or "",
        experiment=run.experiment_name if getattr(run, "experiment", None) is not None else "",
        status=run.status,
        dataset=run.dataset or "",
        model_summary=run.model_summary or "",
        metrics=dict(metrics),
        started_at=_utc(run.started_at or run.created_at),
        duration_s=run.duration_s(),
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


def list_run_rows(store: Store, experiment: str | None = None, status: str | None = None) -> list[RunRow]:
    """Every run (newest first) with its latest metric values."""
    runs = store.list_runs(experiment=experiment, status=status)  # metrics come loaded
    return [_row(run, latest_of(metric_series(run.metrics))) for run in runs]


def latest_of(series: dict[str, list[tuple[int, float]]]) -> dict[str, float]:
    """The value at the highest step of each metric (what the store calls latest)."""
    return {k: v[-1][1] for k, v in series.items() if v}


def metric_series(metrics: Iterable[Any]) -> dict[str, list[tuple[int, float]]]:
    """``{key: [(step, value), ...]}`` sorted by step; a re-logged step keeps the last value."""
    out: dict[str, dict[int, float]] = {}
    for m in metrics:
        out.setdefault(m.key, {})[int(m.step)] = _metric_value(m.value)
    return {k: sorted(v.items()) for k, v in sorted(out.items())}


def run_detail(store: Store, run_id: int) -> RunDetail:
    """The detail view of one run, with its analysis when an ``analysis`` artifact exists."""
    run = store.get_run(run_id)
    series = metric_series(store.get_metrics(run_id))
    latest = latest_of(series)
    artifacts = [ArtifactView(a.kind, a.path, int(a.size), a.sha256) for a in run.artifacts]
    return RunDetail(
        row=_row(run, latest),
        config=dict(run.config or {}),
        params=dict(run.params_dict),
        series=series,
        artifacts=artifacts,
        plugin_versions=dict(run.plugin_versions or {}),
        component_versions=dict(run.component_versions or {}),
        seed=run.seed,
        host=run.host or "",
        error=run.error,
        analysis=load_analysis(artifacts),
    )


def load_analysis(artifacts: Sequence[ArtifactView]) -> dict[str, Any] | None:
    """The newest ``analysis.json`` among a run's artifacts, or None when there is none.

    An artifact counts when its kind is ``analysis`` or its path ends in ``analysis.json``; a
    folder artifact is searched for ``analysis.json`` inside it.
    """
    for art in reversed(list(artifacts)):
        path = Path(art.path)
        if path.is_dir():
            path = path / "analysis.json"
        if art.kind != "analysis" and path.name != "analysis.json":
            continue
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise ArtifactError(
                    f"cannot read the analysis artifact {path}: {type(err).__name__}",
                    fix="rerun `recforge analyze` for this run",
                ) from None
            return data if isinstance(data, dict) else None
    return None


def export_run(store: Store, run_id: int, path: str | Path) -> Path:
    """Write the run's config, params, metric history and provenance as one JSON file."""
    detail = run_detail(store, run_id)
    doc = {
        "id": detail.row.id,
        "name": detail.row.name,
        "experiment": detail.row.experiment,
        "status": detail.row.status,
        "dataset": detail.row.dataset,
        "model_summary": detail.row.model_summary,
        "seed": detail.seed,
        "config": detail.config,
        "params": detail.params,
        "metrics": {k: [{"step": s, "value": v} for s, v in pts] for k, pts in detail.series.items()},
        "latest_metrics": detail.row.metrics,
        "plugin_versions": detail.plugin_versions,
        "component_versions": detail.component_versions,
    }
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=2, default=_json_default, allow_nan=True) + "\n", encoding="utf-8")
    return target


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def list_model_rows(store: Store) -> list[ModelRow]:
    """Every registered model version, by name then version."""
    rows = [
        ModelRow(m.name, int(m.version), m.run_id, m.stage, dict(m.tags or {}), _utc(m.created_at))
        for m in store.list_models()
    ]
    return sorted(rows, key=lambda r: (r.name, r.version))


def parse_tag(text: str) -> tuple[str, str | None]:
    """``"key=value"`` sets a tag, ``"-key"`` removes it; anything else is a ConfigError."""
    text = text.strip()
    if text.startswith("-") and len(text) > 1 and "=" not in text:
        return text[1:].strip(), None
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"tag '{text}' is not key=value", fix="write key=value, or -key to remove a tag")
    return key.strip(), value.strip()


def tag_model(store: Store, name: str, version: int, key: str, value: str | None) -> dict[str, Any]:
    """Set (or with ``value`` None remove) one tag of a model version; returns the new tags."""
    return dict(store.tag_model(name, version, {key: value}).tags or {})


def delete_model(store: Store, name: str, version: int) -> None:
    """Remove one registered version (its source run stays)."""
    store.delete_model(name, version)


def list_dataset_rows(store: Store) -> list[DatasetRow]:
    """Prepared datasets recorded in the store."""
    return [DatasetRow(d.name, d.fingerprint, dict(d.counts or {})) for d in store.list_datasets()]


def require_run(store: Store, run_id: int) -> None:
    """Raise :class:`NotFoundError` unless ``run_id`` exists (actions check before acting)."""
    store.get_run(run_id)


__all__ = [
    "KEY_METRICS",
    "latest_of",
    "ArtifactView",
    "DatasetRow",
    "ModelRow",
    "NotFoundError",
    "RunDetail",
    "RunRow",
    "delete_model",
    "export_run",
    "list_dataset_rows",
    "list_model_rows",
    "list_run_rows",
    "load_analysis",
    "metric_series",
    "open_store",
    "parse_tag",
    "tag_model",
    "require_run",
    "run_detail",
]
