"""``recforge train CONFIG --ray-address ADDR --workers N``: recforge's trainer under Ray Train.

Ray Train's ``TorchTrainer`` places N workers on the cluster and initialises their torch
process group (gloo on CPU, nccl with ``--device cuda``). Each worker then calls the same
:func:`~recforge.core.experiment.run_experiment` a torchrun rank calls: it finds the group
initialised and uses it, so the batches, the DDP gradient averaging, the gathered evaluation
and "only rank 0 writes the store" are exactly those of a torchrun launch. Rank 0 hands the
run's result to the driver through a small Ray actor (:class:`ResultBox`): Ray Train only
returns metrics attached to a checkpoint, and a run's checkpoints are recforge's own.

Workers on other machines see the driver's ``RECFORGE_*`` settings (store URL, home, data
folders), forwarded with the job; the store and ``RECFORGE_HOME`` must be reachable from the
node that hosts rank 0, as with torchrun.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from recforge.core import paths
from recforge.core.config_schema import ExperimentConfig
from recforge.core.errors import RecforgeError
from recforge.core.experiment import RunResult
from recforge.ray_support import connect, forwarded_env, require_ray


class ResultBox:
    """Holds rank 0's result for the driver (created as a zero-CPU Ray actor)."""

    def __init__(self) -> None:
        self.result: dict[str, Any] | None = None

    def put(self, result: dict[str, Any]) -> None:
        self.result = result

    def get(self) -> dict[str, Any] | None:
        return self.result


def _train_worker(loop_config: dict[str, Any]) -> None:
    """One Ray Train worker: recforge's run on the process group Ray set up."""
    import ray

    os.environ.update(loop_config["env"])
    from recforge.core import distributed
    from recforge.core.experiment import run_experiment
    from recforge.core.store import Store

    config, name, device = loop_config["config"], loop_config["name"], loop_config["device"]
    if not distributed.is_main():
        run_experiment(config, None, name=name, progress=False, device=device)
        return
    with Store.open() as store:
        result = run_experiment(config, store, name=name, progress=False, device=device)
    ray.get(loop_config["result_box"].put.remote(result.to_dict()))


def _result_of(doc: dict[str, Any]) -> RunResult:
    return RunResult(run_id=int(doc["run_id"]), status=doc["status"], valid=doc["valid"], test=doc["test"],
                     best_epoch=doc["best_epoch"], epochs_run=doc["epochs_run"],
                     model_dir=Path(doc["model_dir"]) if doc["model_dir"] else None, seconds=doc["seconds"],
                     splits=doc["splits"])


def _last_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def _worker_error(err: Exception, failures: dict[int, Exception]) -> RecforgeError:
    """The lowest-ranked worker's failure as one line; a recforge error (which Ray re-raises
    as a subclass of the original) keeps its own one-line message."""
    for rank in sorted(failures):
        failure = failures[rank]
        if isinstance(failure, RecforgeError):
            return RecforgeError(_last_line(failure).removeprefix(f"{type(failure).__name__}: "))
        return RecforgeError(f"Ray Train worker {rank} failed: {_last_line(failure)}")
    return RecforgeError(f"Ray Train run failed: {_last_line(err)}")


def train_with_ray(config: ExperimentConfig, address: str, workers: int, *, name: str | None = None,
                   device: str = "cpu") -> RunResult:
    """Train ``config`` as ``workers`` Ray Train workers on the cluster at ``address``.

    Args:
        config: the validated experiment config (sent to the workers as a mapping).
        address: a Ray address (``auto``, ``ray://HOST:10001``) or ``local`` for a private
            instance on this machine.
        workers: Ray Train workers (each one CPU, or one GPU with ``device="cuda"``).
        name: the run name.
        device: ``cpu`` or ``cuda``.

    Returns:
        The run's result as rank 0 recorded it.

    Raises:
        RecforgeError: Ray is missing, the cluster is unreachable, or a worker failed.
    """
    ray = require_ray()
    from ray.train import RunConfig, ScalingConfig, TrainingFailedError, WorkerGroupError
    from ray.train.torch import TorchConfig, TorchTrainer

    connect(address, num_cpus=max(workers, os.cpu_count() or 1))
    box = ray.remote(num_cpus=0)(ResultBox).remote()
    loop_config = {"config": config.to_dict(), "name": name, "device": device, "env": forwarded_env(),
                   "result_box": box}
    trainer = TorchTrainer(
        _train_worker,
        train_loop_config=loop_config,
        torch_config=TorchConfig(timeout_s=int(os.environ.get("RECFORGE_DIST_TIMEOUT", "1800"))),
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=str(device).startswith("cuda")),
        run_config=RunConfig(name=f"recforge-{uuid.uuid4().hex[:8]}", storage_path=str(paths.home() / "ray")),
    )
    try:
        trainer.fit()
    except TrainingFailedError as err:
        raise _worker_error(err, err.worker_failures if isinstance(err, WorkerGroupError) else {}) from None
    doc = ray.get(box.get.remote())
    ray.kill(box)
    if doc is None:
        raise RecforgeError("Ray Train finished but rank 0 reported no run",
                            fix="check the Ray job's worker logs (`ray logs`) for what rank 0 did")
    return _result_of(doc)
