"""``recforge runs list|show|delete|compare``: browse the run store."""

from __future__ import annotations

import json

import click

from recforge.cli._output import echo, emit_json, emit_table, safe_text
from recforge.core.store import RUN_STATUSES, Store
from recforge.core.store.compare import compare_runs
from recforge.core.store.dependents import DependentModelsError, describe_versions
from recforge.core.store.repository import stale_after_s
from recforge.core.store.views import iso, run_to_dict


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _short(value: object, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


@click.group("runs")
def runs() -> None:
    """List, inspect, compare and delete runs."""


@runs.command("list")
@click.option("--status", type=click.Choice(RUN_STATUSES), help="Only runs in this status.")
@click.option("--experiment", help="Only runs of this experiment.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_runs(status: str | None, experiment: str | None, as_json: bool) -> None:
    """List runs, newest first, with their latest metrics.

    ``running`` runs without a heartbeat for RECFORGE_STALE_AFTER_S seconds (default 300)
    are marked failed first: their process died (killed, out of memory, power loss).
    """
    timeout = stale_after_s()
    with Store.open() as store:
        found = store.list_runs(experiment=experiment, status=status, stale_after_s=timeout)
        latest = {r.id: store.latest_metrics(r.id) for r in found}
    if as_json:
        emit_json([run_to_dict(r, metrics=latest[r.id]) for r in found])
        return
    emit_table(
        "runs",
        ["id", "experiment", "name", "status", "model", "started", "metrics"],
        [
            (r.id, r.experiment_name, r.name, r.status, r.model_summary, (iso(r.started_at) or "")[:19],
             _short(", ".join(f"{k}={_fmt(v)}" for k, v in latest[r.id].items())))
            for r in found
        ],
    )


@runs.command("show")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_run(run_id: int, as_json: bool) -> None:
    """Show a run's config, params, metrics, artifacts and versions."""
    with Store.open() as store:
        run = store.get_run(run_id)
        latest = store.latest_metrics(run_id)
    data = run_to_dict(run, full=True, metrics=latest)
    if as_json:
        emit_json(data)
        return
    echo(f"run {run.id}  {run.experiment_name}/{run.name}  [{run.status}]  model {run.model_summary}")
    for key in ("created_at", "started_at", "ended_at", "duration_s", "seed", "dataset", "host", "code_version", "error"):
        if data.get(key) not in (None, ""):
            echo(f"  {key}: {data[key]}")
    emit_table("metrics (latest)", ["key", "value"], [(k, _fmt(v)) for k, v in latest.items()])
    emit_table("params", ["key", "value"], [(k, _short(v)) for k, v in run.params_dict.items()])
    emit_table("artifacts", ["kind", "path", "size", "sha256"], [(a.kind, a.path, a.size, a.sha256[:12]) for a in run.artifacts])
    emit_table(
        "versions", ["what", "name", "version"],
        [("plugin", k, v) for k, v in run.plugin_versions.items()]
        + [("component", k, v) for k, v in run.component_versions.items()],
    )
    echo("config:")
    click.echo(json.dumps(run.config, indent=2, default=str))


@runs.command("delete")
@click.argument("run_id", type=int)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--cascade", is_flag=True,
              help="Also deregister the model versions registered from this run (otherwise refused).")
def delete_run(run_id: int, yes: bool, cascade: bool) -> None:
    """Delete a run's records and its artifact folder.

    A run whose saved model backs registered model versions is refused unless ``--cascade``
    is given, which deregisters those versions too (the prompt names them).
    """
    with Store.open() as store:
        run = store.get_run(run_id)
        versions = store.dependent_models(run_id)
        if versions and not cascade:
            raise DependentModelsError(run.id, versions)
        if not yes:
            also = f" and deregister model versions {describe_versions(versions)}" if versions else ""
            click.confirm(safe_text(f"delete run {run.id} ({run.experiment_name}/{run.name}, {run.status}){also}?"),
                          abort=True)
        removed = store.delete_run(run_id, cascade=cascade)
    echo(f"deleted run {run_id}" + (f" and deregistered {describe_versions(removed)}" if removed else ""))


@runs.command("compare")
@click.argument("run_ids", nargs=-1, type=int, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def compare(run_ids: tuple[int, ...], as_json: bool) -> None:
    """Compare runs: latest metrics with deltas to the first run, and config differences."""
    with Store.open() as store:
        result = compare_runs(store, run_ids)
    if as_json:
        emit_json(result.to_dict())
        return
    ids = result.run_ids
    metric_rows = []
    for m in result.metrics:
        cells = [_fmt(m.values[ids[0]])]
        for r in ids[1:]:
            delta = m.deltas[r]
            cells.append(f"{_fmt(m.values[r])} ({'' if delta is None else f'{delta:+.4g}'})")
        metric_rows.append((m.key, *cells))
    emit_table("metrics (delta to first run)", ["metric", *(f"run {r}" for r in ids)], metric_rows)
    emit_table(
        "config differences", ["key", *(f"run {r}" for r in ids)],
        [(c.key, *(_short(c.values[r], 40) for r in ids)) for c in result.config],
    )


COMMANDS = [runs]
