"""``recforge studies list|show|best|export|plot``: the searches ``recforge tune`` ran."""

from __future__ import annotations

from pathlib import Path

import click

from recforge.cli._output import emit_json, emit_table
from recforge.cli.tune import _render
from recforge.core.store import Store
from recforge.tune import records
from recforge.tune.report import draw_plots, export_config, summary, trial_dict

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


@click.group("studies")
def studies() -> None:
    """Hyperparameter searches and their trials."""


@studies.command("list")
@json_option
def list_cmd(as_json: bool) -> None:
    """Every study with its trial counts and best value."""
    with Store.open() as store:
        docs = [summary(store, s) for s in records.list_studies(store)]
    if as_json:
        emit_json([{k: v for k, v in d.items() if k != "trials"} for d in docs])
        return
    emit_table("studies", ["study", "metric", "complete", "pruned", "failed", "best", "best trial"],
               [(d["study"], d["metric"], d["counts"]["complete"], d["counts"]["pruned"], d["counts"]["failed"],
                 f"{d['best']['value']:.4f}" if d["best"] else "-", d["best"]["number"] if d["best"] else "-")
                for d in docs])


@studies.command("show")
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """A study's trials: number, state, value, run and params."""
    with Store.open() as store:
        doc = summary(store, records.get_study(store, name))
    _render(doc, as_json)


@studies.command("best")
@click.argument("name")
@json_option
def best(name: str, as_json: bool) -> None:
    """The best complete trial of a study (chosen on its validation metric)."""
    with Store.open() as store:
        study = records.get_study(store, name)
        doc = {"study": name, "metric": study.metric, **trial_dict(records.best_trial(store, study))}
    if as_json:
        emit_json(doc)
        return
    emit_table(f"study {name}: best trial", ["trial", study.metric, "run", "params"],
               [(doc["number"], f"{doc['value']:.4f}", doc["run_id"], ", ".join(f"{k}={v}" for k, v in doc["params"].items()))])


@studies.command("export")
@click.argument("name")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the config.")
@json_option
def export(name: str, output: Path, as_json: bool) -> None:
    """Write the best trial as a plain config with a provenance header."""
    with Store.open() as store:
        doc = export_config(store, records.get_study(store, name), output)
    if as_json:
        emit_json(doc)
        return
    click.echo(f"wrote {output}: study {name} trial {doc['trial']} (run {doc['run_id']}), value {doc['value']:.4f}")


@studies.command("plot")
@click.argument("name")
@click.option("-o", "--output", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the PNGs (default: the study's folder under RECFORGE_HOME).")
@json_option
def plot(name: str, folder: Path | None, as_json: bool) -> None:
    """Draw the optimisation history and parameter importances as PNGs."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    with Store.open() as store:
        made = draw_plots(store, records.get_study(store, name), folder)
    if as_json:
        emit_json({"study": name, "plots": [str(p) for p in made]})
        return
    for path in made:
        click.echo(f"plot: {path}")


COMMANDS = [studies]
