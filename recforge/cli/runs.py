"""``recforge runs list|show|delete|compare``: browse the run store."""

from __future__ import annotations

import json

import click

from recforge.cli._lazy import LazyGroup
from recforge.cli._output import echo, emit_json, emit_table, safe_text
from recforge.core.store import RUN_STATUSES, Store
from recforge.core.store.compare import compare_runs
from recforge.core.store.dependents import DependentModelsError, describe_versions
from recforge.core.store.repository import stale_after_s
from recforge.core.store.views import iso, run_to_dict
from recforge.services.curves import learning_curves
from recforge.services.runs import list_run_rows, pick_metric_columns, run_detail


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _short(value: object, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


@click.group("runs", cls=LazyGroup, lazy={
    "rerun": ("recforge.cli.train:rerun", "Train a new run with RUN's config (optionally changed with --set)."),
})
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
        if as_json:
            found = store.list_runs(experiment=experiment, status=status, stale_after_s=timeout)
            emit_json([run_to_dict(r, metrics=store.reported_metrics(r.id)) for r in found])
            return
        rows = list_run_rows(store, experiment=experiment, status=status, stale_after_s=timeout)
    shown = pick_metric_columns(rows) or sorted({k for r in rows for k in r.metrics})[:4]
    emit_table(
        "runs",
        ["id", "experiment", "name", "status", "dataset", "model", "started", *shown],
        [
            (r.id, r.experiment, r.name, r.status, r.dataset_name or r.dataset, r.model_summary,
             (iso(r.started_at) or "")[:16].replace("T", " "), *(_fmt(r.metrics.get(k)) for k in shown))
            for r in rows
        ],
    )


@runs.command("show")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), help="Write learning-curve PNGs here.")
def show_run(run_id: int, as_json: bool, plot_dir: str | None) -> None:
    """Show a run's config, params, metrics, artifacts and versions."""
    with Store.open() as store:
        if as_json:
            emit_json(run_to_dict(store.get_run(run_id), full=True, metrics=store.reported_metrics(run_id)))
            return
        detail = run_detail(store, run_id)
        run = store.get_run(run_id)
    row = detail.row
    echo(f"run {row.id}  {row.experiment}/{row.name}  [{row.status}]  model {row.model_summary}")
    data = run_to_dict(run, full=True)
    for key in ("created_at", "started_at", "ended_at", "duration_s", "seed", "dataset", "host", "code_version", "error"):
        if data.get(key) not in (None, ""):
            echo(f"  {key}: {data[key]}")
    emit_table("metrics (latest)", ["key", "value"], [(k, _fmt(v)) for k, v in row.metrics.items()])
    emit_table("params", ["key", "value"], [(k, _short(v)) for k, v in detail.params.items()])
    emit_table("artifacts", ["kind", "path", "size", "sha256"],
               [(a.kind, a.path, a.size, a.sha256[:12]) for a in detail.artifacts])
    emit_table(
        "versions", ["what", "name", "version"],
        [("plugin", k, v) for k, v in detail.plugin_versions.items()]
        + [("component", k, v) for k, v in detail.component_versions.items()],
    )
    if detail.analysis.problem:
        echo(f"analysis: {detail.analysis.problem}")
    click.echo("config:")
    click.echo(json.dumps(detail.config, indent=2, default=str))
    if plot_dir:
        written = learning_curves(detail.series, plot_dir, title=f"run {row.id} {row.name}")
        echo(f"saved {len(written)} learning-curve plots to {plot_dir}")


@runs.command("delete")
@click.argument("run_id", type=int)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--cascade", is_flag=True,
              help="Also deregister the model versions registered from this run (otherwise refused).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def delete_run(run_id: int, yes: bool, cascade: bool, as_json: bool) -> None:
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
    if as_json:
        emit_json({"deleted": run_id, "deregistered": [f"{v.name}/{v.version}" for v in removed]})
        return
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
