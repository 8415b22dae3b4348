"""``recforge tune``'s service: create or resume a study and run trials in this process.

Every trial is an ordinary run (``run_experiment``) of the base config plus the trial's values
as dotted overrides, named ``<study> #<number>``. Its per-epoch valid metric feeds Optuna's
pruner through the trainer's event callback; a pruned trial's run ends ``pruned``. The value a
trial reports is the run's valid metric at its best epoch: the test split plays no part in the
search (each run still reports test once, after its training, like every run).

Workers: one process runs ``worker_trials`` trials (its share of the target); several processes
or machines on one database share the study through Optuna's RDB storage
(:mod:`recforge.tune.storage`), which hands every trial number to exactly one worker.
Resuming: trials a Ctrl-C or a kill left behind end ``failed`` (a kill: once Optuna's heartbeat
grace period has passed) and do not count; ``recforge tune --study NAME`` runs the rest.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recforge.core.config import load_config
from recforge.core.errors import ConfigError, StoreError, unknown_name
from recforge.core.experiment import run_experiment
from recforge.core.train import LOWER_IS_BETTER, TrainEvent, TrainingPruned, TrainSettings
from recforge.tune import optuna_module, records
from recforge.tune.records import StudySettings
from recforge.tune.space import SearchSpace, load_space, override, parse_space
from recforge.tune.storage import open_storage

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
#: Optuna trial states that count towards a study's target number of trials
COUNTED = ("COMPLETE", "PRUNED")


@dataclass(frozen=True)
class TrialOutcome:
    """What one finished trial reports to the caller's progress line."""

    number: int
    state: str
    value: float | None
    run_id: int | None
    params: dict[str, Any]


def direction_of(metric: str) -> str:
    """``maximize`` unless the metric is a loss or an error (as the trainer's monitor decides)."""
    return "minimize" if metric.rsplit(".", 1)[-1].split("@")[0] in LOWER_IS_BETTER else "maximize"


def check_metric(metric: str) -> str:
    """Searches choose on validation metrics only: the test split is for reporting."""
    if not metric.startswith("valid.") or len(metric) <= len("valid."):
        raise ConfigError(f"--metric {metric!r} is not a validation metric",
                          fix="choose on valid, e.g. --metric valid.auc (the test split is read only for reporting)")
    return metric


def make_sampler(kind: str, space: SearchSpace, seed: int | None = None) -> Any:
    """The sampler; ``seed`` makes one worker's proposals reproducible."""
    optuna = optuna_module()

    if kind == "tpe":  # constant_liar: parallel workers do not all pick the same promising point
        return optuna.samplers.TPESampler(constant_liar=True, seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    raise unknown_name("sampler", kind, SAMPLERS, fix=f"use one of {', '.join(SAMPLERS)}")


def make_pruner(kind: str, epochs: int) -> Any:
    optuna = optuna_module()

    if kind == "median":  # compare from the second epoch on, once two trials have finished
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise unknown_name("pruner", kind, PRUNERS, fix=f"use one of {', '.join(PRUNERS)}")


def open_study(store: Any, *, name: str, config_path: Path | None, space_path: Path | None, overrides: list[str],
               metric: str | None, sampler: str | None, pruner: str | None) -> StudySettings:
    """The settings of study ``name``: created from CONFIG and SPACE, or the stored ones.

    Resuming with a CONFIG, SPACE or metric that differs from the study's is refused: trials of
    one study must be comparable.
    """
    found = records.find_study(store, name)
    if found is None:
        if config_path is None or space_path is None:
            raise ConfigError(f"study '{name}' does not exist yet", fix="pass CONFIG and --space SPACE.yaml to create it")
        space = load_space(space_path)
        chosen = check_metric(metric or "valid.auc")
        if (sampler or "tpe") not in SAMPLERS:
            raise unknown_name("sampler", str(sampler), SAMPLERS, fix=f"use one of {', '.join(SAMPLERS)}")
        if (pruner or "median") not in PRUNERS:
            raise unknown_name("pruner", str(pruner), PRUNERS, fix=f"use one of {', '.join(PRUNERS)}")
        space.check_against(config_path, overrides)
        if sampler == "grid":
            space.grid()
        settings = StudySettings(name=name, metric=chosen, direction=direction_of(chosen), sampler=sampler or "tpe",
                                 pruner=pruner or "median", config_path=str(config_path.resolve()),
                                 overrides=list(overrides), config=load_config(config_path, overrides).to_dict(), space=space.raw)
        records.create_study(store, settings)
    else:
        settings = settings_of(found)
        _check_same(settings, config_path, space_path, overrides, metric, sampler, pruner)
        if config_path is not None:  # the same config at this machine's path (checked above)
            settings = dataclasses.replace(settings, config_path=str(config_path.resolve()))
    _optuna_study(store, settings, create=True)
    return settings


def settings_of(row: Any) -> StudySettings:
    """A stored study's settings."""
    return StudySettings(name=row.name, metric=row.metric, direction=row.direction, sampler=row.sampler,
                         pruner=row.pruner, config_path=row.config_path, overrides=list(row.overrides),
                         config=dict(row.config), space=dict(row.space))


def load_optuna_study(store: Any, row: Any) -> Any:
    """The Optuna study behind a stored study (for importances and plots)."""
    return _optuna_study(store, settings_of(row))


def _check_same(settings: StudySettings, config_path: Path | None, space_path: Path | None, overrides: list[str],
                metric: str | None, sampler: str | None, pruner: str | None) -> None:
    fix = "resume with the study's own settings (`recforge tune --study NAME --trials N`) or start another --study"
    path = config_path or Path(settings.config_path)
    if load_config(path, overrides or settings.overrides).to_dict() != settings.config:
        raise ConfigError(f"the config differs from the one study '{settings.name}' was created with", fix=fix)
    if space_path is not None and load_space(space_path).raw != settings.space:
        raise ConfigError(f"the search space differs from study '{settings.name}''s", fix=fix)
    for what, given, stored in (("metric", metric, settings.metric), ("sampler", sampler, settings.sampler),
                                ("pruner", pruner, settings.pruner)):
        if given is not None and given != stored:
            raise ConfigError(f"study '{settings.name}' uses {what} {stored}, not {given}", fix=fix)


def _optuna_study(store: Any, settings: StudySettings, create: bool = False, seed: int | None = None) -> Any:
    import warnings

    optuna = optuna_module()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeats and fail_stale_trials are "experimental" in Optuna since 2.9; they are what
    # lets a killed worker's trial be failed and redone, so keep them and mute the notice
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    space = parse_space(settings.space)
    epochs = TrainSettings.from_config(settings.config.get("train")).epochs
    kwargs = {"study_name": settings.name, "storage": open_storage(store),
              "sampler": make_sampler(settings.sampler, space, seed), "pruner": make_pruner(settings.pruner, epochs)}
    if create:
        return optuna.create_study(direction=settings.direction, load_if_exists=True, **kwargs)
    try:
        return optuna.load_study(**kwargs)
    except KeyError:  # the store knows the study but Optuna's tables (e.g. a deleted file) do not
        raise StoreError(f"the search state of study '{settings.name}' is missing from Optuna's storage",
                         fix="restore recforge.optuna.db beside the store, or start another --study") from None


def counted_trials(study: Any) -> int:
    """Trials that count towards the target: complete or pruned (failed ones are redone)."""
    optuna = optuna_module()

    states = tuple(getattr(optuna.trial.TrialState, s) for s in COUNTED)
    return len(study.get_trials(deepcopy=False, states=states))


def remaining(store: Any, settings: StudySettings, target: int) -> int:
    return max(0, target - counted_trials(_optuna_study(store, settings)))


def run_worker(store: Any, settings: StudySettings, *, target: int, worker_trials: int | None = None,
               timeout: float | None = None, seed: int | None = None,
               on_trial: Callable[[TrialOutcome], None] | None = None) -> None:
    """Run trials of the study in this process until it has ``target`` counted trials, this
    worker has run ``worker_trials`` (its share), or ``timeout`` seconds have passed."""
    optuna = optuna_module()

    study = _optuna_study(store, settings, seed=seed)
    study_row = records.get_study(store, settings.name)
    optuna.storages.fail_stale_trials(study)  # a killed worker's trials: failed, redone
    failed = {t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))}
    records.fail_abandoned(store, study_row.id, failed)
    left = max(0, target - counted_trials(study))
    todo = left if worker_trials is None else min(worker_trials, left)
    if todo == 0:
        return
    space = parse_space(settings.space)
    objective = _objective(store, settings, study_row.id, space, on_trial)

    def stop_at_target(study: Any, _trial: Any) -> None:  # other machines' workers count too
        if counted_trials(study) >= target:
            study.stop()

    study.optimize(objective, n_trials=todo, timeout=timeout, catch=(Exception,), callbacks=[stop_at_target],
                   gc_after_trial=True)


def _objective(store: Any, settings: StudySettings, study_id: int, space: SearchSpace,
               on_trial: Callable[[TrialOutcome], None] | None) -> Callable[[Any], float]:
    optuna = optuna_module()

    split, key = settings.metric.split(".", 1)

    def report(number: int, state: str, value: float | None, run_id: int | None, params: dict[str, Any]) -> None:
        records.end_trial(store, study_id, number, state, value, run_id)
        if on_trial is not None:
            on_trial(TrialOutcome(number, state, value, run_id, params))

    def objective(trial: Any) -> float:
        params = space.suggest(trial)
        records.start_trial(store, study_id, trial.number, params)
        run_name = f"{settings.name} #{trial.number}"
        reported: list[float] = []  # the last epoch's value is a pruned trial's value

        def on_event(event: TrainEvent) -> None:
            value = event.metrics.get(settings.metric)
            if event.kind != "epoch" or value is None:
                return
            reported.append(float(value))
            trial.report(float(value), event.epoch)
            if trial.should_prune():
                raise TrainingPruned(f"pruned by study {settings.name} at epoch {event.epoch}: "
                                     f"{settings.metric} {value:.4f}")

        try:
            config = load_config(Path(settings.config_path),
                                 [*settings.overrides, *(override(k, v) for k, v in params.items())])
            result = run_experiment(config, store, name=run_name, on_event=on_event, progress=False)
        except TrainingPruned as pruned:
            report(trial.number, "pruned", reported[-1] if reported else None, pruned.run_id, params)
            raise optuna.TrialPruned(str(pruned)) from None
        except BaseException:
            report(trial.number, "failed", None, _run_id_named(store, run_name), params)
            raise
        value = (result.valid if split == "valid" else {}).get(key)
        if value is None:
            report(trial.number, "failed", None, result.run_id, params)
            raise ConfigError(f"run {result.run_id} has no {settings.metric}",
                              fix="add the metric to eval.metrics or choose another --metric")
        report(trial.number, "complete", float(value), result.run_id, params)
        return float(value)

    return objective


def _run_id_named(store: Any, name: str) -> int | None:
    """The run a failed trial created, if it got that far (found by its unique trial name)."""
    try:
        found = [r.id for r in store.find_runs(name) if r.name == name]
    except Exception:  # the store itself may be what failed
        logging.getLogger(__name__).debug("cannot look up run %s", name, exc_info=True)
        return None
    return max(found) if found else None
