"""``recforge tune``: hyperparameter search with Optuna, every trial a run in the store.

``--jobs J`` starts J worker processes on this machine that share the study through the
store's database; on several machines run ``recforge tune --study NAME --trials N`` against one
PostgreSQL ``RECFORGE_DB`` (docs/tuning.md). Ctrl-C stops the workers; the same command (or
``recforge tune --study NAME --trials N``) continues the study.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from recforge.cli._output import emit_json, emit_table
from recforge.core.store import Store
from recforge.tune import records
from recforge.tune.records import StudySettings
from recforge.tune.report import draw_plots, summary
from recforge.tune.search import PRUNERS, SAMPLERS, TrialOutcome, open_study, remaining, run_worker


def _print_trial(outcome: TrialOutcome) -> None:
    value = "-" if outcome.value is None else f"{outcome.value:.4f}"
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in outcome.params.items())
    click.echo(f"trial {outcome.number} {outcome.state} value {value} run {outcome.run_id}: {params}", err=True)


def _shares(total: int, jobs: int) -> list[int]:
    """``total`` trials split over ``jobs`` workers as evenly as possible (no empty worker)."""
    return [n for n in (total // jobs + (i < total % jobs) for i in range(jobs)) if n > 0]


def _spawn_workers(settings: StudySettings, trials: int, shares: list[int], timeout: float | None,
                   seed: int | None) -> int:
    """Run one worker process per share; the worst exit status (130 after Ctrl-C)."""
    base = [sys.executable, "-m", "recforge", "tune", settings.config_path, "--study", settings.name,
            "--trials", str(trials)]
    extra = ["--timeout", str(timeout)] if timeout else []
    procs = [subprocess.Popen([*base, "--worker-trials", str(n), *extra,
                               *(["--seed", str(seed + i)] if seed is not None else [])], stdout=subprocess.DEVNULL)
             for i, n in enumerate(shares)]
    try:
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:  # the workers got the same SIGINT; let them record it
        codes = [p.wait() for p in procs]
        return 130
    return max(codes, default=0)


@click.command("tune")
@click.argument("config_path", metavar="[CONFIG]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--space", "space_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Search space YAML (dotted config keys -> distributions).")
@click.option("--trials", type=click.IntRange(min=1), required=True,
              help="Target number of complete or pruned trials in the study.")
@click.option("--metric", default=None, help="Validation metric to optimise  [default: valid.auc].")
@click.option("--timeout", type=click.FloatRange(min=1), default=None, help="Stop starting trials after S seconds.")
@click.option("--study", "study_name", default=None,
              help="Study name (default: CONFIG-SPACE); an existing study continues.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes on this machine sharing the study.")
@click.option("--sampler", type=click.Choice(SAMPLERS), default=None, help="Sampler  [default: tpe].")
@click.option("--pruner", type=click.Choice(PRUNERS), default=None, help="Pruner fed by the per-epoch metric  [default: median].")
@click.option("--seed", type=int, default=None, help="Sampler seed (worker k of --jobs uses seed + k).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a base config value (repeatable).")
@click.option("--worker-trials", type=click.IntRange(min=0), default=None,
              help="Run at most this many trials in this process (for workers on other machines).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document last.")
def tune(config_path: Path | None, space_path: Path | None, trials: int, metric: str | None, timeout: float | None,
         study_name: str | None, jobs: int, sampler: str | None, pruner: str | None, seed: int | None,
         overrides: tuple[str, ...], worker_trials: int | None, as_json: bool) -> None:
    """Search CONFIG's settings over SPACE on the validation metric; every trial is a run."""
    if study_name is None:
        if config_path is None or space_path is None:
            raise click.UsageError("pass CONFIG and --space SPACE.yaml, or --study NAME to continue a study")
        study_name = f"{config_path.stem}-{space_path.stem}"
    with Store.open() as store:
        settings = open_study(store, name=study_name, config_path=config_path, space_path=space_path,
                              overrides=list(overrides), metric=metric, sampler=sampler, pruner=pruner)
        if worker_trials is not None or jobs == 1:
            left = remaining(store, settings, trials)
            if left == 0 and worker_trials is None and not as_json:
                click.echo(f"study {study_name} already has {trials} trials; raise --trials to run more", err=True)
            run_worker(store, settings, target=trials, worker_trials=worker_trials, timeout=timeout,
                       seed=seed, on_trial=_print_trial)
            if worker_trials is not None:
                return
        else:
            code = _spawn_workers(settings, trials, _shares(remaining(store, settings, trials), jobs), timeout, seed)
            if code:
                click.echo(f"a worker ended with status {code}; continue with `recforge tune --study {study_name} "
                           f"--trials {trials}`", err=True)
                raise click.exceptions.Exit(code)
        row = records.get_study(store, study_name)
        plots = draw_plots(store, row)
        doc = {**summary(store, row), "plots": [str(p) for p in plots]}
    _render(doc, as_json)


def _render(doc: dict, as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    rows = [(t["number"], t["state"], "-" if t["value"] is None else f"{t['value']:.4f}", t["run_id"] or "-",
             ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t["params"].items()))
            for t in doc["trials"]]
    counts = ", ".join(f"{n} {s}" for s, n in doc["counts"].items() if n)
    emit_table(f"study {doc['study']}: {doc['metric']} ({doc['direction']}); {counts}",
               ["trial", "state", "value", "run", "params"], rows)
    best = doc["best"]
    if best:
        click.echo(f"best: trial {best['number']} {doc['metric']} {best['value']:.4f} (run {best['run_id']}); "
                   f"export it with `recforge studies export {doc['study']} -o best.yaml`")
    for plot in doc.get("plots", []):
        click.echo(f"plot: {plot}")


COMMANDS = [tune]
