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

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from recforge.core import distributed
from recforge.core.calibration import LoglossDrift
from recforge.core.checkpointing import KEEP_CHECKPOINTS, load_latest, save_epoch
from recforge.core.config_schema import TrainConfig
from recforge.core.data.streaming_table import ShardedTable
from recforge.core.errors import RecforgeError
from recforge.core.metric_direction import LOWER_IS_BETTER  # noqa: F401 - re-exported
from recforge.core.optim import OPTIMIZERS, SCHEDULERS, EpochScheduler, make_optimizer, param_groups  # noqa: F401 - re-exported
from recforge.core.progress import REFRESH_S, Reporter, epoch_line

log = logging.getLogger(__name__)

#: rows gathered from the training table per block of batches (see Trainer._block_batches)
GATHER_ROWS = 1 << 16

#: the ``train`` section, validated (a pydantic model; ``TrainSettings.from_config(mapping)``)
TrainSettings = TrainConfig


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


class TrainingDiverged(RecforgeError):
    """The loss or a validation metric became NaN or infinite: the run failed, not finished."""

    def __init__(self, what: str) -> None:
        super().__init__(f"training diverged: {what}",
                         fix="lower train.lr, set train.grad_clip, or check the data for extreme values "
                         "(train.stop_on_nonfinite: true stops at the first such step)")


def check_finite(model: nn.Module, metrics: dict[str, float], epoch: int) -> None:
    """Fail with :class:`TrainingDiverged` when an epoch ends with a NaN/inf loss or weight.

    A NaN *validation* metric alone is not divergence (AUC of a one-class split is NaN by
    definition); with finite weights and loss it is logged as before (NULL in the store).
    """
    loss = metrics.get("train.loss")
    if loss is not None and not math.isfinite(loss):
        raise TrainingDiverged(f"train.loss is {loss} at epoch {epoch}")
    for name, param in model.named_parameters():
        if param.is_floating_point() and not bool(torch.isfinite(param).all()):
            raise TrainingDiverged(f"weight {name} holds NaN or infinite values after epoch {epoch}")


class TrainingInterrupted(KeyboardInterrupt):
    """Training was cancelled (Ctrl-C or an ``on_event`` request); the last checkpoint stays."""


class TrainingPruned(Exception):
    """``on_event`` stopped a run a search judged hopeless (``recforge tune``'s pruner).

    Neither a failure nor resumable: the run ends ``pruned`` with this message as its reason
    and ``run_id`` is set by the experiment service before it propagates.
    """

    run_id: int | None = None


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
        penalty: ``() -> scalar`` added to every step's loss (L2 regularisation), or None.
        progress: report progress (:mod:`recforge.core.progress`): a bar redrawn every 0.2 s
            on a terminal and one line per epoch (on stderr when it is not a terminal).
        event_every_s: seconds between ``step`` events (the first and last step of an epoch,
            or the ``max_steps``-th, always send one), so a launcher's bar moves within even a
            short epoch; ``inf`` keeps only those (benchmarks: no device sync in between).
    """

    def __init__(self, model: nn.Module, train: Any, settings: TrainSettings, *,
                 evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
                 checkpoint_dir: Path | None = None, store: Any = None, run_id: Any = None,
                 on_event: Callable[[TrainEvent], Any] | None = None,
                 add_negatives: Callable[[dict[str, Tensor], torch.Generator], dict[str, Tensor]] | None = None,
                 progress: bool = True, device: str | torch.device = "cpu",
                 event_every_s: float = REFRESH_S, penalty: Callable[[], Tensor] | None = None) -> None:
        self.model, self.train, self.s = model, train, settings
        self.amp = native_bf16(torch.device(device)) if settings.amp == "auto" else bool(settings.amp)
        self.evaluate, self.checkpoint_dir = evaluate, checkpoint_dir
        self.store, self.run_id, self.on_event = store, run_id, on_event
        self.add_negatives, self.progress, self.device = add_negatives, progress, torch.device(device)
        self.penalty = penalty
        self.event_every_s = max(0.0, event_every_s)
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
        if resume and self.store is not None and self.run_id is not None:
            # the store keeps exactly the epochs the checkpoint has: rows an attempt logged
            # after its last complete checkpoint (or its final rows) would otherwise repeat
            self.store.reset_epoch_metrics(self.run_id, self.history)
        stopped = bool(self.s.patience and self.bad_epochs >= self.s.patience)
        steps = self.train.num_batches(self.s.batch_size)
        bar = Reporter(enabled=self.progress and self.rank == 0)
        fit_started = time.perf_counter()
        self._emit(TrainEvent("start", start, self.s.epochs, steps=steps))
        self._beat(force=True)
        epoch = start - 1
        self._train_seconds = 0.0
        drift = LoglossDrift(self.s.logloss_warn_margin, self.monitor)
        with bar:
            for epoch in range(start, self.s.epochs + 1):
                if stopped or (self.s.max_steps and self.global_step >= self.s.max_steps):
                    epoch -= 1
                    break
                metrics = self._epoch(epoch, steps, bar)
                check_finite(self.model, metrics, epoch)
                rate = self.train.num_rows / max(self._train_seconds, 1e-9)
                value = metrics.get(self.monitor)
                improved = self._improved(value)
                warning = drift.update(epoch, metrics, improved)
                if warning is not None and self.rank == 0:
                    log.warning(warning)
                if improved:
                    self.best_value, self.best_epoch, self.bad_epochs = value, epoch, 0
                    self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                else:
                    self.bad_epochs += 1
                self.scheduler.end_epoch(epoch, value, self.higher)
                self.history.append({"epoch": epoch, **metrics})
                # checkpoint first, then the epoch's metric rows: a kill in between leaves rows
                # missing, which resume restores from the checkpoint's history (never doubled)
                self._checkpoint(epoch)
                if self.store is not None and self.run_id is not None:
                    self.store.log_metrics(self.run_id, metrics, step=epoch)
                self._beat(force=True)
                bar.line(epoch_line(epoch, self.s.epochs, metrics, rate, time.perf_counter() - fit_started))
                self._emit(TrainEvent("epoch", epoch, self.s.epochs, step=steps, steps=steps,
                                      samples=self.train.num_rows, loss=metrics.get("train.loss"),
                                      samples_per_s=rate, metrics=metrics, best_epoch=self.best_epoch))
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
        if isinstance(self.train, ShardedTable):  # out-of-core: shards streamed per rank and worker
            yield from self.train.epoch_batches(gen, size)
            return
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

    def _epoch(self, epoch: int, steps: int, bar: Reporter) -> dict[str, float]:
        torch.manual_seed(self.s.seed * 1000 + epoch + 1_000_003 * self.rank)  # own dropout masks per rank
        gen = torch.Generator().manual_seed(self.s.seed + epoch)
        bar.start(f"epoch {epoch}/{self.s.epochs}", self.train.num_rows)
        last_event = 0.0
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
            if self.penalty is not None:  # model.*_regularizer: trained on, not reported
                scaled = scaled + self.penalty()
            if self.s.stop_on_nonfinite and not bool(torch.isfinite(loss)):
                raise TrainingDiverged(f"train.loss is {float(loss.detach())} at epoch {epoch} step {step}")
            self.optimizer.zero_grad(set_to_none=True)
            scaled.backward()
            if self.s.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.s.grad_clip)
            self.optimizer.step()
            total.add_(loss.detach(), alpha=n_local)  # stays on the device: no per-step host sync
            seen += n_global
            local_seen += n_local
            self.global_step += 1
            now = time.perf_counter()
            # by time, not every N steps: the first and last step of an epoch, then every
            # event_every_s; the loss is read from the device only then
            last = step == steps or bool(self.s.max_steps and self.global_step >= self.s.max_steps)
            if step == 1 or last or now - last_event >= self.event_every_s or bar.due():
                last_event = now
                mean = (total / max(local_seen, 1)).item()
                rate = seen / max(now - started, 1e-9)
                bar.update(seen, info=f"loss {mean:.4f}  {rate:,.0f} samples/s", force=last)
                self._emit(TrainEvent("step", epoch, self.s.epochs, step, steps, seen, mean, rate))
                self._beat()
            if self.s.max_steps and self.global_step >= self.s.max_steps:
                break
        self._train_seconds = time.perf_counter() - started
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
    """A modified, re-validated copy (e.g. fewer epochs for a smoke run)."""
    return TrainConfig.from_config({**settings.to_dict(), **changes})
