"""Runs as the CLI and the console show them: table rows, the detail view, exports, datasets.

Screens and commands never touch ORM objects: they get the plain, frozen views below, built
here in one place, so a change in the store's internals touches one module and the views can
be compared in tests. Actions (delete, register, export, ...) call the store's repository API.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recforge.core.errors import NotFoundError
from recforge.core.store import Store
from recforge.core.store.reported import reported_values
from recforge.core.store.tables import as_utc
from recforge.services.analysis import AnalysisView, load_analysis

#: metrics shown as columns of the runs table, in order of preference (valid first, then test)
KEY_METRICS: tuple[str, ...] = (
    "valid.auc", "valid.logloss", "valid.ndcg@10", "valid.rmse", "test.auc", "test.logloss", "test.ndcg@10",
    "test.rmse",
)


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
    dataset_name: str = ""


@dataclass(frozen=True)
class ArtifactView:
    """A file a run produced."""

    kind: str
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RunDetail:
    """Everything the run-detail screen and ``runs show`` present."""

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
    analysis: AnalysisView


@dataclass(frozen=True)
class DatasetRow:
    """A prepared dataset recorded in the store."""

    name: str
    fingerprint: str
    counts: dict[str, Any]


def pick_metric_columns(rows: Sequence[RunRow], limit: int = 4) -> list[str]:
    """Up to ``limit`` metric columns: the first two valid key metrics, their test
    counterparts (read once after training), then the commonest other valid metrics."""
    present: dict[str, int] = {}
    for row in rows:
        for key in row.metrics:
            present[key] = present.get(key, 0) + 1
    valid = [k for k in KEY_METRICS if k.startswith("valid.") and k in present][:2]
    chosen = valid + [t for t in (f"test.{k[len('valid.'):]}" for k in valid) if t in present]
    rest = sorted((k for k in present if k not in chosen and k.startswith("valid.")), key=lambda k: (-present[k], k))
    return (chosen + rest)[:limit]


def open_store() -> Store:
    """The store the CLI uses (``RECFORGE_DB`` or the SQLite file under ``RECFORGE_HOME``)."""
    return Store.open()


def dataset_name(config: dict[str, Any] | None, fallback: str = "") -> str:
    """A name people recognise for a run's data: the task folder of a ``files`` recipe
    (``ml100k-ctr`` for ``.../ml100k-ctr/train.csv``), else the recipe and its ``name`` param;
    ``fallback`` (the stored ``recipe:fingerprint``) when the config says nothing."""
    data = (config or {}).get("data") or {}
    if not isinstance(data, dict):
        return fallback
    recipe = str(data.get("recipe") or "")
    params = data.get("params") or {}
    if isinstance(params, dict):
        if recipe in ("", "files") and isinstance(params.get("train"), str):
            return Path(params["train"]).parent.name or fallback
        named = params.get("name") or params.get("dataset")
        if named:
            return f"{recipe}:{named}" if recipe else str(named)
    return recipe or fallback


def _metric_value(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _row(run: Any, metrics: dict[str, float]) -> RunRow:
    return RunRow(
        id=int(run.id),
        name=run.name or "",
        experiment=run.experiment_name if run.experiment is not None else "",
        status=run.status,
        dataset=run.dataset or "",
        model_summary=run.model_summary or "",
        metrics=dict(metrics),
        started_at=as_utc(run.started_at or run.created_at),
        duration_s=run.duration_s(),
        dataset_name=dataset_name(run.config, run.dataset or ""),
    )


def list_run_rows(store: Store, experiment: str | None = None, status: str | None = None,
                  stale_after_s: float | None = None) -> list[RunRow]:
    """Every run (newest first) with its latest metric values."""
    runs = store.list_runs(experiment=experiment, status=status, stale_after_s=stale_after_s)
    return [_row(run, reported_values(metric_series(run.metrics))) for run in runs]


def metric_series(metrics: Iterable[Any]) -> dict[str, list[tuple[int, float]]]:
    """``{key: [(step, value), ...]}`` sorted by step; a re-logged step keeps the last value."""
    out: dict[str, dict[int, float]] = {}
    for m in metrics:
        out.setdefault(m.key, {})[int(m.step)] = _metric_value(m.value)
    return {k: sorted(v.items()) for k, v in sorted(out.items())}


def run_series(store: Store, run_id: int) -> dict[str, list[tuple[int, float]]]:
    """A run's metric history by epoch (what the live charts draw)."""
    return metric_series(store.get_metrics(run_id))


def run_detail(store: Store, run_id: int) -> RunDetail:
    """The detail view of one run, with its analysis (or why it cannot be shown)."""
    run = store.get_run(run_id)
    series = metric_series(store.get_metrics(run_id))
    artifacts = [ArtifactView(a.kind, a.path, int(a.size), a.sha256) for a in run.artifacts]
    return RunDetail(
        row=_row(run, reported_values(series)),
        config=dict(run.config or {}),
        params=dict(run.params_dict),
        series=series,
        artifacts=artifacts,
        plugin_versions=dict(run.plugin_versions or {}),
        component_versions=dict(run.component_versions or {}),
        seed=run.seed,
        host=run.host or "",
        error=run.error,
        analysis=load_analysis([(a.kind, a.path) for a in artifacts], run_id=int(run.id)),
    )


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


def list_dataset_rows(store: Store) -> list[DatasetRow]:
    """Prepared datasets recorded in the store."""
    return [DatasetRow(d.name, d.fingerprint, dict(d.counts or {})) for d in store.list_datasets()]


def require_run(store: Store, run_id: int) -> None:
    """Raise :class:`NotFoundError` unless ``run_id`` exists (actions check before acting)."""
    store.get_run(run_id)


__all__ = [
    "KEY_METRICS",
    "ArtifactView",
    "DatasetRow",
    "NotFoundError",
    "RunDetail",
    "RunRow",
    "dataset_name",
    "export_run",
    "list_dataset_rows",
    "list_run_rows",
    "metric_series",
    "open_store",
    "pick_metric_columns",
    "require_run",
    "run_detail",
    "run_series",
]
