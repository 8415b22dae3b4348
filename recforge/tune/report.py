"""What a study shows: its summary, the best trial as a plain config, and its plots.

Plots are drawn with matplotlib (Optuna's own plots need plotly) into the study's folder
``$RECFORGE_HOME/studies/<name>/`` and recorded as artifacts (kind ``study_plot``) of the best
trial's run, so ``runs show`` lists them beside the model.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from recforge.core import paths
from recforge.core.config import dump_config
from recforge.core.errors import ConfigError
from recforge.core.store.tables import Study, StudyTrial
from recforge.tune import optuna_module
from recforge.tune import records


def trial_dict(trial: StudyTrial) -> dict[str, Any]:
    return {"number": trial.number, "state": trial.state, "value": trial.value, "run_id": trial.run_id,
            "params": trial.params, "worker": trial.worker}


def summary(store: Any, study: Study) -> dict[str, Any]:
    """The study, its trials in order, counts per state and the best complete trial."""
    rows = records.trials(store, study.id)
    counts = {state: sum(t.state == state for t in rows) for state in ("complete", "pruned", "failed", "running")}
    done = [t for t in rows if t.state == "complete" and t.value is not None]
    best = trial_dict(records.best_trial(store, study)) if done else None
    return {"study": study.name, "metric": study.metric, "direction": study.direction, "sampler": study.sampler,
            "pruner": study.pruner, "config_path": study.config_path, "space": study.space, "counts": counts,
            "best": best, "trials": [trial_dict(t) for t in rows]}


def best_so_far(values: list[float | None], direction: str) -> list[float | None]:
    """Running best over complete trials' values (None before the first one)."""
    out: list[float | None] = []
    best: float | None = None
    for value in values:
        if value is not None and not math.isnan(value):
            better = best is None or (value > best if direction == "maximize" else value < best)
            best = value if better else best
        out.append(best)
    return out


def export_config(store: Any, study: Study, path: Path) -> dict[str, Any]:
    """Write the best trial's run config (exactly what it trained) with a provenance header."""
    best = records.best_trial(store, study)
    if best.run_id is None:
        raise ConfigError(f"the run of study '{study.name}''s best trial {best.number} was deleted",
                          fix="run more trials or export another study")
    run = store.get_run(best.run_id)
    header = (f"# Exported by `recforge studies export {study.name}`.\n"
              f"# study: {study.name}; trial: {best.number} (run {best.run_id}); "
              f"{study.metric}: {best.value:.4f} ({study.direction}, chosen on the validation split only)\n"
              f"# date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}\n"
              f"# searched: {', '.join(f'{k}={v}' for k, v in best.params.items())}\n")
    try:
        path.write_text(header + dump_config(dict(run.config)), encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror}", fix="choose a writable -o path") from None
    return {"study": study.name, "trial": best.number, "run_id": best.run_id, "value": best.value, "path": str(path)}


def study_dir(name: str) -> Path:
    folder = paths.home() / "studies" / "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def draw_plots(store: Any, study: Study, folder: Path | None = None) -> list[Path]:
    """Optimisation history and (with 2+ complete trials) parameter importances as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = records.trials(store, study.id)
    folder = folder or study_dir(study.name)
    made: list[Path] = []
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = {"complete": "tab:blue", "pruned": "tab:orange", "failed": "tab:red", "running": "tab:gray"}
    for state, colour in colours.items():
        points = [(t.number, t.value) for t in rows if t.state == state and t.value is not None]
        if points:
            ax.scatter(*zip(*points), color=colour, label=state, s=18)
    complete = [t.value if t.state == "complete" else None for t in rows]
    ax.step([t.number for t in rows], [v if v is not None else math.nan for v in best_so_far(complete, study.direction)],
            where="post", color="black", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(study.metric)
    ax.set_title(f"study {study.name}: optimisation history")
    ax.legend(loc="best", fontsize=8)
    made.append(_save(fig, folder / "history.png"))
    importances = param_importances(store, study)
    if importances:
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.4 * len(importances)))
        names = list(importances)[::-1]
        ax.barh(names, [importances[n] for n in names], color="tab:blue")
        ax.set_xlabel("importance (fANOVA)")
        ax.set_title(f"study {study.name}: parameter importances")
        made.append(_save(fig, folder / "importances.png"))
    plt.close("all")
    best = [t for t in rows if t.state == "complete" and t.run_id is not None]
    if best:
        run_id = records.best_trial(store, study).run_id
        known = {a.path for a in store.get_run(run_id).artifacts}
        for path in made:
            if str(path.resolve()) not in known:
                store.log_artifact(run_id, kind="study_plot", path=path)
    return made


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def param_importances(store: Any, study: Study) -> dict[str, float]:
    """Optuna's fANOVA importances over complete trials ({} below two of them)."""
    optuna = optuna_module()

    from recforge.tune.search import load_optuna_study

    optuna_study = load_optuna_study(store, study)
    done = optuna_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < 2:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(optuna_study))
    except (RuntimeError, ValueError):  # e.g. every complete trial had the same params
        return {}
