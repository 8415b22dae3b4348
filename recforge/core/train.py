"""The training loop: optimiser, schedules, early stopping, checkpoints, progress and events.

:class:`Trainer` knows nothing about data preparation or evaluation protocols: it gets a
model (:class:`~recforge.core.model_api.RecommenderModel`), the training
:class:`~recforge.core.data.table.TensorTable`, its :class:`TrainSettings` and an
``evaluate(model) -> {metric: value}`` callable for the validation split, so the same loop
serves the CLI, the console and tests. ``recforge.core.experiment`` wires it to data and store.

Reproducibility: epoch ``e`` shuffles with a generator seeded ``seed + e`` and reseeds torch's
global RNG (dropout) with ``seed * 1000 + e``; a run resumed from the checkpoint of epoch
``e - 1`` therefore replays exactly what an uninterrupted run would have done.

Distributed (torchrun, ``WORLD_SIZE > 1``): the loop wraps the model's loss in
DistributedDataParallel and each rank trains on its contiguous part of every global batch
(:mod:`recforge.core.distributed`); the epoch's permutation is the same on every rank, so
N processes replay the single-process batches. Only rank 0 writes checkpoints; the caller
gives the other ranks no store. Checkpoints hold the plain model, so any number of processes
can resume them.

Cancellation: ``on_event`` may raise ``KeyboardInterrupt`` or return ``True``; either stops
the loop with :class:`TrainingInterrupted` (a ``KeyboardInterrupt``) after which the last
complete checkpoint is still on disk.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text
from torch import Tensor, nn

from recforge.core import distributed
from recforge.core.allocator import keep_freed_memory
from recforge.core.calibration import LOGLOSS_WARN_MARGIN, LoglossDrift, check_method
from recforge.core.checkpointing import KEEP_CHECKPOINTS, load_latest, save_epoch
from recforge.core.errors import ConfigError, unknown_name
from recforge.core.optim import OPTIMIZERS, SCHEDULERS, EpochScheduler, make_optimizer, param_groups  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

LOWER_IS_BETTER = ("loss", "logloss", "rmse", "mae", "mse")
#: rows gathered from the training table per block of batches (see Trainer._block_batches)
GATHER_ROWS = 1 << 16
#: spellings of booleans accepted in the train section
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes"), ("0", "false", "no")


@dataclass
class TrainSettings:
    """The config's ``train`` section, validated.

    Args:
        optimizer: adam, adamw or sgd.
        lr: base learning rate.
        batch_size / eval_batch_size: rows per training / evaluation batch.
        epochs: maximum number of epochs; max_steps: stop after this many steps (0 = no cap).
        patience: epochs without improvement of ``monitor`` before stopping (0 = never).
        monitor: metric to select the best epoch on, e.g. ``valid.auc`` (``auc`` means the
            validation one); monitor_mode: max, min or auto (min for losses and errors).
        seed / deterministic / threads: reproducibility and CPU threads.
        weight_decay: decay of every parameter; embedding_weight_decay: decay of embedding
            tables instead (None = same as weight_decay).
        embedding_lr: learning rate of the embedding tables (None = ``lr``). Factorisation
            parts learn through the tables, a deep MLP through its dense weights; a larger
            table lr lets the wide/FM side converge in a few epochs while the MLP keeps the
            base lr (Wide&Deep trained its two sides with separate optimisers for this reason).
        lr_groups: ``{parameter-name prefix: lr}`` or ``{prefix: {lr, weight_decay}}``, e.g.
            ``{encoders.item_text: 1e-5}`` to fine-tune a language model slower.
        scheduler: none, or ``{name: step|exponential|cosine|plateau, ...its arguments}``;
            ``warmup_epochs`` in it ramps the lr linearly first.
        grad_clip: clip the global gradient norm to this value (0 = off).
        checkpoint: write a checkpoint every epoch.
        amp: run the training forward pass under bfloat16 autocast (matrix multiplies in
            bf16, master weights and the optimiser in float32): ``true``, ``false`` or
            ``auto`` (on where the device has native bf16: AVX512-BF16/AMX CPUs, bf16 GPUs;
            elsewhere bf16 is emulated and slower). Validation stays in float32 so the
            monitored metric is not blurred by the lower precision.
        calibrate: after training, fit ``temperature`` or ``platt`` scaling of the click
            probabilities on valid (``none``: off); see :mod:`recforge.core.calibration`.
        logloss_warn_margin: warn when the monitored metric improves while valid log loss is
            this much above its best epoch's (the probabilities drift; calibrate them).
        compile: compile the training loss (forward and backward) with ``torch.compile``. The
            first steps pay the compilation (tens of seconds on CPU, a C++ compiler needed);
            it pays off on long runs of models with many small element-wise ops.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 4096
    eval_batch_size: int = 16384
    epochs: int = 10
    max_steps: int = 0
    patience: int = 2
    monitor: str | None = None
    monitor_mode: str = "auto"
    seed: int = 2024
    deterministic: bool = False
    threads: int | None = None
    weight_decay: float = 0.0
    embedding_weight_decay: float | None = None
    embedding_lr: float | None = None
    lr_groups: dict[str, Any] = field(default_factory=dict)
    scheduler: Any = None
    grad_clip: float = 0.0
    checkpoint: bool = True
    amp: bool | str = False
    compile: bool = False
    calibrate: str = "none"
    logloss_warn_margin: float = LOGLOSS_WARN_MARGIN

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> TrainSettings:
        """Validate and coerce ``config["train"]``."""
        raw = dict(section or {})
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in _COERCE:
                raise unknown_name("key in config section 'train'", key, _COERCE, fix="fix the key name")
            kind = _COERCE[key]
            if value is None or kind is None:
                values[key] = value
                continue
            try:
                if kind is bool:
                    values[key] = value if isinstance(value, bool) else str(value).strip().lower() in TRUE_WORDS
                elif kind is dict:
                    if not isinstance(value, dict):
                        raise TypeError
                    values[key] = value
                else:
                    values[key] = kind(value)
            except (TypeError, ValueError):
                raise ConfigError(f"train.{key}: {value!r} is not a {kind.__name__}",
                                  fix="fix the value's type") from None
        out = cls(**values)
        out.amp = _amp_setting(out.amp)
        if out.optimizer.lower() not in OPTIMIZERS:
            raise unknown_name("optimizer", out.optimizer, OPTIMIZERS, fix=f"use one of {', '.join(OPTIMIZERS)}")
        if out.batch_size < 1 or out.epochs < 0 or out.lr <= 0 or (out.embedding_lr is not None and out.embedding_lr <= 0):
            raise ConfigError("train.batch_size, train.lr and train.embedding_lr must be positive "
                              "and train.epochs >= 0", fix="fix the train section")
        check_method(out.calibrate)
        if out.monitor_mode not in ("auto", "max", "min"):
            raise ConfigError(f"train.monitor_mode '{out.monitor_mode}' is not max, min or auto",
                              fix="use max, min or auto")
        return out

    def monitor_key(self, has_valid: bool) -> str:
        name = self.monitor or ("valid.auc" if has_valid else "train.loss")
        return name if "." in name else f"valid.{name}"

    def higher_is_better(self, key: str) -> bool:
        if self.monitor_mode != "auto":
            return self.monitor_mode == "max"
        return key.rsplit(".", 1)[-1].split("@")[0] not in LOWER_IS_BETTER


def _amp_setting(value: Any) -> bool | str:
    """``train.amp`` as True, False or ``"auto"``; anything else is a one-line error."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("auto", *TRUE_WORDS, *FALSE_WORDS):
        return "auto" if text == "auto" else text in TRUE_WORDS
    raise ConfigError(f"train.amp: {value!r} is not true, false or auto", fix="set train.amp to true, false or auto")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (so autocast to bf16 is a speed-up)."""
    try:
        if device.type == "cuda":
            return bool(torch.cuda.is_bf16_supported())
        if device.type == "cpu":
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        pass
    return False


_COERCE: dict[str, Any] = {
    "optimizer": str, "lr": float, "batch_size": int, "eval_batch_size": int, "epochs": int,
    "max_steps": int, "patience": int, "monitor": str, "monitor_mode": str, "seed": int,
    "deterministic": bool, "threads": int, "weight_decay": float, "embedding_weight_decay": float,
    "embedding_lr": float, "lr_groups": dict, "scheduler": None, "grad_clip": float, "checkpoint": bool, "amp": None,
    "compile": bool, "calibrate": str, "logloss_warn_margin": float,
}


@dataclass
class TrainEvent:
    """What ``on_event`` receives: ``start``, ``step`` (every few steps), ``epoch`` and ``end``."""

    kind: str
    epoch: int
    epochs: int
    step: int = 0
    steps: int = 0
    samples: int = 0
    loss: float | None = None
    samples_per_s: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    best_epoch: int | None = None


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`."""

    history: list[dict[str, float]]
    best_epoch: int | None
    best_value: float | None
    monitor: str
    epochs_run: int
    stopped_early: bool


class TrainingInterrupted(KeyboardInterrupt):
    """Training was cancelled (Ctrl-C or an ``on_event`` request); the last checkpoint stays."""


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text(f"{speed:,.0f} samples/s" if speed else "- samples/s", style="cyan")


# --------------------------------------------------------------------------- the loop
class Trainer:
    """Trains one model on one table; see the module docstring for the contract.

    Args:
        model: the model (already on ``device``).
        train: the training TensorTable.
        settings: validated ``train`` settings.
        evaluate: ``model -> {metric: value}`` on the validation split (names without the
            ``valid.`` prefix), or None when there is none.
        checkpoint_dir: where per-epoch checkpoints go (None = no checkpoints).
        store / run_id: where per-epoch metrics and heartbeats go (optional).
        on_event: progress callback; may cancel (see module docstring).
        add_negatives: ``(batch, generator) -> batch`` adding sampled negatives for
            pairwise/retrieval models.
        progress: show a rich progress bar (only drawn on a terminal).
    """

    def __init__(self, model: nn.Module, train: Any, settings: TrainSettings, *,
                 evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
                 checkpoint_dir: Path | None = None, store: Any = None, run_id: Any = None,
                 on_event: Callable[[TrainEvent], Any] | None = None,
                 add_negatives: Callable[[dict[str, Tensor], torch.Generator], dict[str, Tensor]] | None = None,
                 progress: bool = True, device: str | torch.device = "cpu", log_every: int = 20) -> None:
        self.model, self.train, self.s = model, train, settings
        keep_freed_memory()  # reuse each step's large blocks instead of page-faulting them anew
        self.amp = native_bf16(torch.device(device)) if settings.amp == "auto" else bool(settings.amp)
        self.evaluate, self.checkpoint_dir = evaluate, checkpoint_dir
        self.store, self.run_id, self.on_event = store, run_id, on_event
        self.add_negatives, self.progress, self.device = add_negatives, progress, torch.device(device)
        self.log_every = max(1, log_every)
        self.monitor = settings.monitor_key(evaluate is not None)
        self.higher = settings.higher_is_better(self.monitor)
        self.optimizer = make_optimizer(model, settings)
        self.scheduler = EpochScheduler(self.optimizer, settings.scheduler, settings.epochs)
        self.history: list[dict[str, float]] = []
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, Tensor] | None = None
        self.bad_epochs = 0
        self.global_step = 0
        self._last_beat = 0.0
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.loss_fn: Callable[[dict[str, Tensor]], Tensor] = model.training_loss  # type: ignore[assignment]
        if distributed.is_active():
            self.loss_fn = distributed.wrap_for_training(model, self.device)
        if settings.compile:
            self.loss_fn = torch.compile(self.loss_fn)

    # ------------------------------------------------------------------ helpers
    def _emit(self, event: TrainEvent) -> None:
        if self.on_event is not None and self.on_event(event) is True:
            raise TrainingInterrupted("training cancelled")

    def _beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.store is not None and self.run_id is not None and (force or now - self._last_beat > 10):
            self._last_beat = now
            self.store.heartbeat(self.run_id)

    def _improved(self, value: float | None) -> bool:
        if value is None or math.isnan(value):
            return False
        return self.best_value is None or (value > self.best_value if self.higher else value < self.best_value)

    def _to_device(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        if self.device.type == "cpu":
            return batch
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    # ------------------------------------------------------------------ checkpoints
    def _loop_state(self, epoch: int) -> dict[str, Any]:
        return {"epoch": epoch, "history": self.history, "best_value": self.best_value,
                "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "global_step": self.global_step, "scheduler": self.scheduler.state(), "monitor": self.monitor}

    def _checkpoint(self, epoch: int) -> None:
        if self.checkpoint_dir is None or not self.s.checkpoint or self.rank != 0:
            return
        save_epoch(self.checkpoint_dir, epoch, self.model, self.optimizer, self._loop_state(epoch),
                   self.best_state, KEEP_CHECKPOINTS)

    def restore(self) -> int:
        """Load the latest checkpoint (if any); returns the first epoch still to run.

        Every rank reads the same checkpoint (the run folder must be on storage they share).
        """
        found = load_latest(self.checkpoint_dir, self.model, self.optimizer)
        if found is None:
            return 1
        folder, state, best = found
        self.history = state["history"]
        self.best_value, self.best_epoch = state["best_value"], state["best_epoch"]
        self.bad_epochs, self.global_step = state["bad_epochs"], state["global_step"]
        self.best_state = best
        self.scheduler.load(state["scheduler"], state["epoch"] + 1)
        log.info("resumed from %s", folder)
        return int(state["epoch"]) + 1

    # ------------------------------------------------------------------ fit
    def fit(self, resume: bool = False) -> TrainResult:
        """Run epochs until ``epochs``, ``max_steps`` or early stopping; restore the best weights."""
        start = self.restore() if resume else 1
        stopped = bool(self.s.patience and self.bad_epochs >= self.s.patience)
        steps = self.train.num_batches(self.s.batch_size)
        console = Console(stderr=True)
        bar = Progress(TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"), BarColumn(),
                       TextColumn("{task.completed:,.0f}/{task.total:,.0f}"), _RateColumn(),
                       TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(), console=console,
                       disable=not (self.progress and console.is_terminal and self.rank == 0), transient=True)
        self._emit(TrainEvent("start", start, self.s.epochs, steps=steps))
        self._beat(force=True)
        epoch = start - 1
        drift = LoglossDrift(self.s.logloss_warn_margin, self.monitor)
        with bar:
            for epoch in range(start, self.s.epochs + 1):
                if stopped or (self.s.max_steps and self.global_step >= self.s.max_steps):
                    epoch -= 1
                    break
                metrics = self._epoch(epoch, steps, bar)
                value = metrics.get(self.monitor)
                improved = self._improved(value)
                warning = drift.update(epoch, metrics, improved)
                if warning is not None and self.rank == 0:
                    log.warning(warning)
                    console.print(f"[yellow]warning:[/] {warning}")
                if improved:
                    self.best_value, self.best_epoch, self.bad_epochs = value, epoch, 0
                    self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                else:
                    self.bad_epochs += 1
                self.scheduler.end_epoch(epoch, value, self.higher)
                self.history.append({"epoch": epoch, **metrics})
                if self.store is not None and self.run_id is not None:
                    self.store.log_metrics(self.run_id, metrics, step=epoch)
                self._beat(force=True)
                self._checkpoint(epoch)
                self._emit(TrainEvent("epoch", epoch, self.s.epochs, steps=steps, samples=self.train.num_rows,
                                      loss=metrics.get("train.loss"), metrics=metrics, best_epoch=self.best_epoch))
                stopped = bool(self.s.patience and self.bad_epochs >= self.s.patience)
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self._emit(TrainEvent("end", epoch, self.s.epochs, best_epoch=self.best_epoch,
                              metrics={self.monitor: self.best_value} if self.best_value is not None else {}))
        return TrainResult(self.history, self.best_epoch, self.best_value, self.monitor, epoch, stopped)

    def _batches(self, gen: torch.Generator) -> Iterator[tuple[dict[str, Tensor], int, int]]:
        """``(this rank's batch, its rows, the global batch's rows)`` for one epoch.

        One permutation per epoch from ``gen`` (the same on every rank); global batches are
        its consecutive slices and each rank takes its contiguous part of every one. A final
        batch too small to give every rank a row is skipped (only possible with N > 1).
        """
        n, size = self.train.num_rows, self.s.batch_size
        order = torch.randperm(n, generator=gen)
        if self.world == 1:
            yield from self._block_batches(order, size)
            return
        for start in range(0, n, size):
            index = order[start : start + size]
            if index.numel() < self.world:
                break
            local = distributed.local_slice(index)
            yield self.train.batch(local), int(local.numel()), int(index.numel())

    def _block_batches(self, order: Tensor, size: int) -> Iterator[tuple[dict[str, Tensor], int, int]]:
        """Single-process batches: gather many batches' rows at once, then hand out slices.

        The same rows in the same order as one gather per batch, but each column is gathered
        once per block of ~``GATHER_ROWS`` rows (large gathers run on every thread and pay the
        per-call dispatch once) and every batch is a zero-copy slice of the block.
        """
        per_block = max(1, GATHER_ROWS // size) * size
        for block_start in range(0, order.numel(), per_block):
            block = self.train.batch(order[block_start:block_start + per_block])
            rows = min(per_block, order.numel() - block_start)
            for start in range(0, rows, size):
                stop = min(start + size, rows)
                yield {name: col[start:stop] for name, col in block.items()}, stop - start, stop - start

    def _epoch(self, epoch: int, steps: int, bar: Progress) -> dict[str, float]:
        torch.manual_seed(self.s.seed * 1000 + epoch + 1_000_003 * self.rank)  # own dropout masks per rank
        gen = torch.Generator().manual_seed(self.s.seed + epoch)
        task = bar.add_task("train", total=self.train.num_rows, epoch=epoch, epochs=self.s.epochs, loss="-")
        self.model.train()
        total = torch.zeros((), device=self.device)
        seen, local_seen, started = 0, 0, time.perf_counter()
        for step, (batch, n_local, n_global) in enumerate(self._batches(gen), 1):
            batch = self._to_device(batch)
            if self.add_negatives is not None:
                batch = self.add_negatives(batch, gen)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                loss = self.loss_fn(batch).float()
            # DDP averages gradients over ranks: weighting each rank's mean loss by its share
            # makes that average the gradient of the global batch's mean loss
            scaled = loss * (n_local * self.world / n_global) if self.world > 1 else loss
            self.optimizer.zero_grad(set_to_none=True)
            scaled.backward()
            if self.s.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.s.grad_clip)
            self.optimizer.step()
            total.add_(loss.detach(), alpha=n_local)  # stays on the device: no per-step host sync
            seen += n_global
            local_seen += n_local
            self.global_step += 1
            if step % self.log_every == 0 or step == steps:
                mean = (total / max(local_seen, 1)).item()
                rate = seen / max(time.perf_counter() - started, 1e-9)
                bar.update(task, completed=seen, loss=f"{mean:.4f}")
                self._emit(TrainEvent("step", epoch, self.s.epochs, step, steps, seen, mean, rate))
                self._beat()
            if self.s.max_steps and self.global_step >= self.s.max_steps:
                break
        bar.remove_task(task)
        sums = distributed.all_reduce_sum(torch.stack([total.double().cpu(), torch.tensor(float(local_seen), dtype=torch.float64)]))
        metrics = {"train.loss": float(sums[0] / max(float(sums[1]), 1.0))}
        if self.evaluate is not None:
            distributed.sync_buffers(self.model)
            self.model.eval()
            with torch.no_grad():
                metrics.update({f"valid.{k}": float(v) for k, v in self.evaluate(self.model).items()})
        return metrics


def fit_without_gradients(model: Any, prepared: Any) -> TrainResult:
    """Models with ``trainable = False`` (itemknn, content) are fitted once, not trained."""
    model.fit(prepared)
    return TrainResult([], None, None, "", 0, False)


def copy_settings(settings: TrainSettings, **changes: Any) -> TrainSettings:
    """A modified copy (e.g. fewer epochs for a smoke run)."""
    return dataclasses.replace(copy.deepcopy(settings), **changes)
