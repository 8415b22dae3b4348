"""Plain-dict views of store records, shared by ``--json`` output and the console."""

from __future__ import annotations

import datetime as dt
from typing import Any

from recforge.core.store.tables import Artifact, ModelVersion, Run, as_utc


def iso(value: dt.datetime | None) -> str | None:
    """ISO-8601 in UTC, or None."""
    value = as_utc(value)
    return None if value is None else value.isoformat()


def artifact_to_dict(artifact: Artifact) -> dict[str, Any]:
    return {"kind": artifact.kind, "path": artifact.path, "sha256": artifact.sha256, "size": artifact.size}


def run_to_dict(run: Run, full: bool = False, metrics: dict[str, float] | None = None) -> dict[str, Any]:
    """Summary of a run; ``full`` adds config, params, metric history, artifacts and versions."""
    data: dict[str, Any] = {
        "id": run.id,
        "experiment": run.experiment_name,
        "name": run.name,
        "status": run.status,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "duration_s": run.duration_s(),
        "seed": run.seed,
        "dataset": run.dataset,
        "model": run.model_summary,
        "error": run.error,
    }
    if metrics is not None:
        data["metrics"] = metrics
    if full:
        data.update(
            heartbeat_at=iso(run.heartbeat_at),
            host=run.host,
            code_version=run.code_version,
            config=run.config,
            params=run.params_dict,
            metric_history=[
                {"key": m.key, "value": m.float_value, "step": m.step, "timestamp": iso(m.timestamp)} for m in run.metrics
            ],
            artifacts=[artifact_to_dict(a) for a in run.artifacts],
            plugin_versions=run.plugin_versions,
            component_versions=run.component_versions,
        )
    return data


def model_to_dict(mv: ModelVersion) -> dict[str, Any]:
    return {
        "name": mv.name,
        "version": mv.version,
        "run_id": mv.run_id,
        "stage": mv.stage,
        "tags": mv.tags,
        "created_at": iso(mv.created_at),
    }
