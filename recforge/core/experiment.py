"""One experiment end to end: prepare data, build, train, evaluate, save, record.

:func:`run_experiment` is the single service behind ``recforge train``, ``runs rerun``, the
console launcher and ``quickstart``; :func:`resume_experiment` continues an interrupted run
from its last checkpoint and :func:`evaluate_run` re-evaluates a saved model. The run's status
in the store always reflects what happened: ``finished``, ``interrupted`` (Ctrl-C or a
cancellation from the event callback; the last checkpoint is kept) or ``failed`` (with the
error's one-line message).

Under torchrun (``WORLD_SIZE > 1``) every service joins the process group
(:func:`recforge.core.distributed.session`) and only rank 0 touches the store: it prepares the
data first (so the prepared-data cache is written once), creates the run and broadcasts its id
and folder; the other ranks get ``store=None`` and never write. Evaluation shards the rows and
gathers the predictions, so every rank computes the single-process metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from recforge.core import distributed
from recforge.core.components import PrepareContext
from recforge.core.config_schema import ExperimentConfig
from recforge.core.data.sealed import sealed_test
from recforge.core.errors import ConfigError
from recforge.core.evaluation import check_splits, evaluate, metric_names, predict_table, resolve_monitor  # noqa: F401 - re-exported
from recforge.core.model import build_model, component_names
from recforge.core.model_api import is_trainable, neg_key
from recforge.core.regularization import penalty_for
from recforge.core.registry import get_registry
from recforge.core.saved_model import save_model
from recforge.core.train import (
    Trainer,
    TrainEvent,
    TrainingInterrupted,
    TrainingPruned,
    TrainResult,
    TrainSettings,
    fit_without_gradients,
)

if TYPE_CHECKING:
    from recforge.core.data.prepare import PreparedData

log = logging.getLogger(__name__)

@dataclass
class RunResult:
    """What a finished (or resumed) run produced."""

    run_id: int
    status: str
    valid: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    #: metrics of every split in ``eval.splits`` (valid and test included)
    best_epoch: int | None = None
    epochs_run: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    model_dir: Path | None = None
    seconds: float = 0.0
    splits: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the trained model (set by :func:`train_on`; runs of the store are loaded from model_dir)
    model: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "valid": self.valid, "test": self.test,
                "best_epoch": self.best_epoch, "epochs_run": self.epochs_run,
                "model_dir": str(self.model_dir) if self.model_dir else None, "seconds": round(self.seconds, 2),
                "splits": self.splits}


class RunInterrupted(TrainingInterrupted):
    """A run was interrupted; carries its id so the CLI can say how to resume it."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"run {run_id} interrupted")
        self.run_id = run_id


# --------------------------------------------------------------------------- negatives
def negative_adder(model: Any, prepared: Any, config: ExperimentConfig) -> Callable[..., Any] | None:
    """Batch hook adding ``neg_<item>`` for pairwise/retrieval models, else None.

    One negative per row from the data layer's :class:`NegativeSampler` (``uniform`` or
    ``popularity`` per ``data.negatives.method``), never one of the user's training
    positives. Each batch reseeds the sampler from the epoch's generator, so a resumed run
    draws exactly the negatives an uninterrupted one would.
    """
    if model.task not in ("pairwise", "retrieval") or not prepared.item_field:
        return None
    from recforge.core.data.sampling import NegativeSampler

    fields = prepared.fields if isinstance(prepared.fields, dict) else {f.name: f for f in prepared.fields}
    n_items = int(fields[prepared.item_field].vocab_size)
    train = prepared.splits["train"]
    rows = train.batch(torch.arange(train.num_rows))
    users, items = rows[prepared.user_field], rows[prepared.item_field]
    if prepared.label and prepared.label in rows:
        positive = rows[prepared.label] > 0
        users, items = users[positive], items[positive]
    negatives = ExperimentConfig.parse(config).data.negatives
    method = negatives.method if negatives is not None else "uniform"
    counts = np.bincount(items.numpy(), minlength=n_items) if method == "popularity" else None
    sampler = NegativeSampler(n_items, method=method, counts=counts)  # type: ignore[arg-type]
    sampler.set_positives(users, items)
    key = neg_key(prepared.item_field)

    def add(batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
        if key in batch:
            return batch
        sampler.rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
        ids = batch[prepared.user_field].cpu()
        neg = sampler.sample(ids, 1)[:, 0].to(batch[prepared.item_field].device)
        return {**batch, key: neg}

    return add


# --------------------------------------------------------------------------- runs
def _setup(settings: TrainSettings) -> None:
    if settings.threads:
        torch.set_num_threads(int(settings.threads))
    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed % (2**32))
    if settings.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value
    return out


def model_summary(config: Any) -> str:
    """Short ``interaction/ranker`` description for run lists."""
    model = ExperimentConfig.parse(config).model
    inter = model.interaction_spec()
    inter = inter if isinstance(inter, str) or inter is None else inter.get("name", "composed")
    return f"{inter}/{model.ranker.name}" if inter else model.ranker.name


def prepare_data_once(data_cfg: dict[str, Any], store: Any) -> PreparedData:
    """``prepare_data`` on every rank, rank 0 first: it writes the prepared-data cache that
    the others then read, so no two processes write the same cache folder."""
    from recforge.core.data import prepare_data

    main = distributed.is_main()
    if not main:
        distributed.barrier()
    prepared = prepare_data(data_cfg, store=store if main else None)
    if main:
        distributed.barrier()
    return prepared


def _prepare(config: ExperimentConfig, store: Any, device: Any) -> tuple[PreparedData, Any, TrainSettings]:
    """Prepared data, the built model and the train settings with the monitor resolved; every
    config problem that needs the data or the model (splits, monitor) fails here, before a
    run is recorded."""
    prepared = prepare_data_once(config.data_section(), store)
    main = distributed.is_main()
    model, settings = _build(config, prepared, PrepareContext(store=store if main else None, device=device,
                                                              show_progress=main))
    return prepared, model, settings


def _build(config: ExperimentConfig, prepared: PreparedData, context: PrepareContext) -> tuple[Any, TrainSettings]:
    """The model on ``context.device``, prepared, and the train settings with the monitor
    resolved; the checks that need data or model (splits, monitor) run before any training."""
    model = build_model(config, prepared)
    check_splits(config, prepared)
    has_valid = "valid" in prepared.splits and prepared.splits["valid"].num_rows > 0
    settings = resolve_monitor(config, model.task, has_valid and is_trainable(model))
    model.to(context.device)
    model.prepare(context)
    return model, settings


def run_experiment(config: ExperimentConfig | dict[str, Any], store: Any, *, name: str | None = None,
                   on_event: Callable[[TrainEvent], Any] | None = None, progress: bool = True,
                   device: str = "cpu") -> RunResult:
    """Prepare, build, train, evaluate (valid + test), save the model and finish the run.

    Args:
        config: the typed experiment config (a mapping is validated into one first).
        store: the run store.
        name: run name (default: the config's ``name`` or the model summary).
        on_event: trainer progress callback (may cancel).
        progress: draw the rich progress bar on a terminal.
        device: torch device.

    Raises:
        RunInterrupted: Ctrl-C or cancellation; the run is marked ``interrupted``.
    """
    config = ExperimentConfig.parse(config)
    _setup(config.train)
    with distributed.session(device) as rank_device:
        device = rank_device  # cuda:LOCAL_RANK under torchrun
        store = store if distributed.is_main() else None
        prepared, model, settings = _prepare(config, store, device)
        versions = get_registry().versions(component_names(config, model))
        created = None
        if store is not None:
            raw = config.to_dict()
            run = store.create_run(
                experiment=config.experiment or "default",
                name=name or config.name or model_summary(config), config=raw, seed=settings.seed,
                dataset=f"{config.data.recipe or 'files'}:{str(prepared.fingerprint)[:12]}",
                model_summary=model_summary(config), components=versions)
            store.start_run(run.id)
            store.log_params(run.id, _flat("", {"train": raw.get("train") or {}, "model": raw.get("model") or {}}, {}))
            created = (run.id, str(store.run_dir(run.id)))
        run_id, run_dir = distributed.broadcast_object(created)
        return _train_and_finish(run_id, Path(run_dir), config, prepared, model, settings, store, versions,
                                 on_event=on_event, progress=progress, device=device, resume=False)


def train_on(config: ExperimentConfig | dict[str, Any], prepared: Any, run_dir: Path, *,
             device: str = "cpu") -> RunResult:
    """Build, train and evaluate on already prepared data without a store (nothing recorded).

    The same checks, trainer and evaluation as :func:`run_experiment`; for tests and for
    callers that prepare data themselves. Checkpoints (``train.checkpoint``) go to ``run_dir``.
    """
    config = ExperimentConfig.parse(config)
    _setup(config.train)
    model, settings = _build(config, prepared, PrepareContext(device=device))
    result = _train_and_finish(0, Path(run_dir), config, prepared, model, settings, None, {}, on_event=None,
                               progress=False, device=device, resume=False)
    result.model = model
    return result


def resume_experiment(run_id: int, store: Any, *, on_event: Callable[[TrainEvent], Any] | None = None,
                      progress: bool = True, device: str = "cpu") -> RunResult:
    """Continue an interrupted or failed run from its last checkpoint (same config, same seed).

    The run may have been started with any number of processes and resumed with any other:
    checkpoints hold the plain model (rank 0 reads the run and broadcasts it).
    """
    with distributed.session(device) as rank_device:
        device = rank_device  # cuda:LOCAL_RANK under torchrun
        store = store if distributed.is_main() else None
        found: Any = None
        if store is not None:
            run = store.get_run(run_id)
            found = (run.status, dict(run.config), str(store.run_dir(run_id)))
        status, raw, run_dir = distributed.broadcast_object(found)
        if status == "finished":
            raise ConfigError(f"run {run_id} already finished", fix=f"use `recforge runs rerun {run_id}` to train it again")
        config = ExperimentConfig.parse(raw)
        _setup(config.train)
        prepared, model, settings = _prepare(config, store, device)
        versions = get_registry().versions(component_names(config, model))
        if store is not None:
            store.start_run(run_id)
        return _train_and_finish(run_id, Path(run_dir), config, prepared, model, settings, store, versions,
                                 on_event=on_event, progress=progress, device=device, resume=True)


def _train_and_finish(run_id: int, run_dir: Path, config: ExperimentConfig, prepared: Any, model: Any,
                      settings: TrainSettings, store: Any, versions: dict[str, str], *, on_event: Any,
                      progress: bool, device: Any, resume: bool) -> RunResult:
    """Train, evaluate and (with a store: rank 0) record and save; ``store=None`` writes nothing."""
    started = time.perf_counter()
    model_dir = run_dir / "model"
    if settings.calibrate != "none":  # fail before training, not after
        from recforge.core.calibration import calibration_of

        calibration_of(model)
    try:
        with sealed_test(prepared):  # the test split is read once, below, after training
            result = _fit(model, prepared, config, settings, store, run_id, run_dir, on_event, progress, device, resume)
        calibration = calibrate_model(model, prepared, config, settings, device)
        valid = {}
        if calibration:  # the valid metrics of the calibrated model, not of the training epoch
            valid = evaluate(model, prepared, "valid", config, device)
        elif result.best_epoch is not None:
            best = next(h for h in result.history if h["epoch"] == result.best_epoch)
            valid = {k[len("valid."):]: v for k, v in best.items() if k.startswith("valid.")}
        splits = {}
        for split in config.eval.splits:  # the test split is read once, here, after training
            splits[split] = valid if split == "valid" and valid else evaluate(model, prepared, split, config, device)
        valid, test = splits.get("valid", {}), splits.get("test", {})
        final = {**{f"{split}.{k}": v for split, metrics in splits.items() for k, v in metrics.items()}, **calibration}
        if store is not None:
            store.log_metrics(run_id, final, step=result.best_epoch or result.epochs_run)
            model_dir = save_model(model, prepared, config.to_dict(), model_dir, versions)
            store.log_artifact(run_id, kind="model", path=model_dir)
            store.finish_run(run_id)
        distributed.barrier()  # every rank returns once the model is saved
    except KeyboardInterrupt:
        if store is not None:
            store.interrupt_run(run_id)
        raise RunInterrupted(run_id) from None
    except TrainingPruned as pruned:  # a search stopped it: neither failed nor resumable
        if store is not None:
            store.prune_run(run_id, str(pruned))
        pruned.run_id = run_id
        raise
    except Exception as err:
        if store is not None:
            store.fail_run(run_id, error=" ".join(f"{type(err).__name__}: {err}".split())[:2000])
        raise
    return RunResult(run_id, "finished", valid, test, result.best_epoch, result.epochs_run, result.history,
                     model_dir, time.perf_counter() - started, splits)


def calibrate_model(model: Any, prepared: Any, config: ExperimentConfig, settings: TrainSettings,
                    device: Any) -> dict[str, float]:
    """``train.calibrate``: fit the click probabilities' scaling on valid (test only measured).

    Returns the before / after ECE and log loss per split (empty when calibration is off).
    """
    if settings.calibrate == "none":
        return {}
    from recforge.core.calibration import calibrate
    from recforge.core.data.interactions import column

    if "valid" not in prepared.splits or prepared.splits["valid"].num_rows == 0 or not prepared.label:
        raise ConfigError("train.calibrate needs a labelled valid split", fix="give the data a valid split, or remove train.calibrate")
    batch_size = settings.eval_batch_size
    splits = {name: ((lambda t=prepared.splits[name]: predict_table(model, t, batch_size, device)),
                     column(prepared.splits[name], prepared.label))
              for name in ("valid", "test") if name in prepared.splits}
    return calibrate(model, settings.calibrate, splits)


def _fit(model: Any, prepared: Any, config: ExperimentConfig, settings: TrainSettings, store: Any, run_id: int,
         run_dir: Path, on_event: Any, progress: bool, device: Any, resume: bool) -> TrainResult:
    if not is_trainable(model):  # fitted identically on every rank
        return fit_without_gradients(model, prepared)
    has_valid = "valid" in prepared.splits and prepared.splits["valid"].num_rows > 0
    trainer = Trainer(
        model, prepared.splits["train"], settings,
        evaluate=(lambda m: evaluate(m, prepared, "valid", config, device)) if has_valid else None,
        checkpoint_dir=run_dir / "checkpoints", store=store, run_id=run_id if store is not None else None,
        on_event=on_event,
        add_negatives=negative_adder(model, prepared, config), progress=progress, device=device,
        penalty=penalty_for(model, config.model.embedding_regularizer, config.model.net_regularizer))
    return trainer.fit(resume=resume)


def evaluate_run(run_id: int, store: Any, split: str = "test", device: str = "cpu") -> dict[str, float]:
    """Re-evaluate a run's saved model on one split of its (re-prepared) data.

    Under torchrun the rows are sharded over the ranks and the predictions gathered, giving
    the single-process metrics on every rank; only rank 0 needs the store.
    """
    from recforge.core.saved_model import load_model

    with distributed.session(device) as rank_device:
        device = rank_device  # cuda:LOCAL_RANK under torchrun
        store = store if distributed.is_main() else None
        model_dir = distributed.broadcast_object(str(Path(store.run_dir(run_id)) / "model") if store is not None else None)
        loaded = load_model(model_dir, store=store, device=device)
        prepared = prepare_data_once(ExperimentConfig.parse(loaded.config).data_section(), store)
        if split not in prepared.splits:
            raise ConfigError(f"the data of run {run_id} has no '{split}' split",
                              fix=f"use one of {', '.join(prepared.splits)}")
        return evaluate(loaded.model, prepared, split, loaded.config, device)
