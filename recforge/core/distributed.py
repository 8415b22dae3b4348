"""torch.distributed (torchrun) support: process group, rank helpers, collectives, DDP.

recforge scales out on PyTorch's own engine rather than a separate tool: ``torchrun
--nproc_per_node=N -m recforge train CONFIG`` starts N copies of the normal CLI, and the
services notice ``WORLD_SIZE > 1`` and join the process group (:func:`session`): gloo on CPU,
nccl when the device is CUDA (each rank then uses ``cuda:LOCAL_RANK``). Several machines meet
through torchrun's c10d rendezvous (:mod:`recforge.core.launch`); a process group that another
engine already set up (Ray Train's TorchTrainer, :mod:`recforge.ray_support`) is used as is.

What each rank does (see ``docs/distributed.md``):

* training: every epoch draws one permutation from the shared seed; each global batch of
  ``train.batch_size`` rows is a contiguous slice of it, and rank ``r`` takes the ``r``-th
  contiguous part of that slice (:func:`local_slice`). Gradients are averaged by
  DistributedDataParallel (:func:`wrap_for_training`), with the loss re-weighted so that
  uneven parts still give the gradient of the global batch mean. N processes therefore replay
  the single-process run batch for batch.
* evaluation: rank ``r`` predicts rows ``shard_bounds(n, r, N)`` of the split, and
  :func:`all_gather_varlen` concatenates the parts in rank order, so every rank holds exactly
  the single-process prediction vector (no padded duplicates) and computes the same metrics.
* side effects: only rank 0 (:func:`is_main`) writes to the store, checkpoints and saved
  models; the others learn the run id by :func:`broadcast_object`.
* text encoding: :func:`text_shard` hands the text cache this rank's part of the distinct
  texts (see :meth:`recforge.core.textcache.TextCache.get_or_compute`).

Outside torchrun every helper degrades to the single-process answer (rank 0 of 1, collectives
are identities), so callers need no ``if distributed`` branches of their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from recforge.core.errors import ConfigError
from recforge.core.launch import TorchrunLaunch
from recforge.core.textcache import ShardSpec

REQUIRED_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
TIMEOUT_ENV = "RECFORGE_DIST_TIMEOUT"


# --------------------------------------------------------------------------- who am I
def env_world_size() -> int:
    """``WORLD_SIZE`` set by torchrun (1 when not launched by it)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ConfigError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not an integer",
                          fix="launch with torchrun, which sets it, or unset it") from None


def env_rank() -> int:
    """``RANK`` set by torchrun (0 when not launched by it): known before the group is joined,
    so the CLI can leave the store closed on every rank but 0."""
    return int(os.environ.get("RANK", "0"))


def is_active() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's global rank (0 outside a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of processes (1 outside a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def local_rank() -> int:
    """Rank on this node (``LOCAL_RANK``), which picks the GPU."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """True on the one process that writes to the store and the artifacts folder."""
    return rank() == 0


# --------------------------------------------------------------------------- life cycle
def rank_device(device: str | torch.device) -> str:
    """The device this rank uses: ``cuda`` becomes ``cuda:LOCAL_RANK`` under torchrun."""
    text = str(device)
    if text == "cuda" and env_world_size() > 1:
        return f"cuda:{local_rank()}"
    return text


def init_from_env(device: str | torch.device = "cpu") -> str:
    """Join the process group torchrun describes (no-op for a single process).

    Args:
        device: the requested device; CUDA selects the nccl backend, anything else gloo.

    Returns:
        The device this rank should use.

    Raises:
        ConfigError: ``WORLD_SIZE > 1`` but the other torchrun variables are missing, or
            CUDA was requested on a machine without it.
    """
    device = rank_device(device)
    if env_world_size() <= 1 or (dist.is_available() and dist.is_initialized()):
        return device
    if not dist.is_available():
        raise ConfigError("this torch build has no torch.distributed", fix="install a torch build with distributed support")
    missing = [name for name in REQUIRED_ENV if name not in os.environ]
    if missing:
        raise ConfigError(f"WORLD_SIZE > 1 but {', '.join(missing)} not set",
                          fix="launch with `torchrun --nproc_per_node=N -m recforge ...` or `recforge train --nproc N`")
    cuda = device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise ConfigError(f"device {device} requested but CUDA is not available", fix="use --device cpu (gloo)")
    if cuda:
        torch.cuda.set_device(torch.device(device))
    timeout = timedelta(seconds=int(os.environ.get(TIMEOUT_ENV, "1800")))
    dist.init_process_group("nccl" if cuda else "gloo", timeout=timeout)
    return device


def cleanup() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def session(device: str | torch.device = "cpu") -> Iterator[str]:
    """Join the torchrun process group for the ``with`` block; yields this rank's device.

    Leaves the group afterwards only if this call joined it, so nested services (a run that
    evaluates) share one group.
    """
    joined = env_world_size() > 1 and not (dist.is_available() and dist.is_initialized())
    device = init_from_env(device)
    try:
        yield device
    finally:
        if joined:
            cleanup()


# --------------------------------------------------------------------------- collectives
def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    """Wait until every rank gets here (no-op for a single process)."""
    if not is_active():
        return
    if dist.get_backend() == "nccl":
        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` from rank ``src`` on every rank (small picklable values such as a run id)."""
    if not is_active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order."""
    if not is_active():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(value: Tensor) -> Tensor:
    """The sum over ranks of ``value`` (a new tensor; the input is left alone)."""
    if not is_active():
        return value.clone()
    out = value.detach().to(_comm_device()).clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(value.device)


def all_gather_varlen(value: Tensor) -> Tensor:
    """Concatenate every rank's ``[n_r, ...]`` tensor along dim 0, in rank order.

    The parts may have different lengths (including 0); each is padded to the longest for
    the collective and cut back afterwards, so the result has exactly ``sum(n_r)`` rows.
    """
    if not is_active():
        return value
    dev = _comm_device()
    local = value.detach().to(dev)
    count = torch.tensor([local.shape[0]], dtype=torch.long, device=dev)
    counts = [torch.zeros_like(count) for _ in range(world_size())]
    dist.all_gather(counts, count)
    sizes = [int(c.item()) for c in counts]
    padded = local.new_zeros((max(sizes), *local.shape[1:]))
    padded[: local.shape[0]] = local
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return torch.cat([part[:size] for part, size in zip(parts, sizes)]).to(value.device)


def sync_buffers(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (e.g. batch-norm statistics) to every rank, in place."""
    if not is_active():
        return
    dev = _comm_device()
    for buf in module.buffers():
        data = buf.data if buf.device == dev else buf.data.to(dev)
        dist.broadcast(data, src=src)
        if data is not buf.data:
            buf.data.copy_(data)


# --------------------------------------------------------------------------- sharding
def shard_bounds(n: int, rank_: int | None = None, world: int | None = None) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of ``n`` that rank ``rank_`` of ``world`` owns (sizes differ by <= 1)."""
    r = rank() if rank_ is None else rank_
    w = world_size() if world is None else world
    return n * r // w, n * (r + 1) // w


def local_slice(index: Tensor) -> Tensor:
    """This rank's contiguous part of a global batch's row index."""
    lo, hi = shard_bounds(int(index.shape[0]))
    return index[lo:hi]


def text_shard() -> ShardSpec | None:
    """This rank's part in filling the text cache, or None for a single process."""
    if not is_active():
        return None
    return ShardSpec(rank=rank(), world_size=world_size(), barrier=barrier, gather=all_gather_object)


# --------------------------------------------------------------------------- DDP
class LossForward(nn.Module):
    """``forward(batch) = model.training_loss(batch)``: what DDP wraps, since DDP only
    synchronises gradients of computations that go through the wrapped module's forward."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.model.training_loss(batch)  # type: ignore[operator]


def wrap_for_training(model: nn.Module, device: str | torch.device) -> nn.Module:
    """DistributedDataParallel around ``model.training_loss``; parameters are broadcast from
    rank 0 on construction. Buffers are synchronised once per evaluation instead of every
    step (:func:`sync_buffers`): text banks are large and never change while training.
    ``static_graph`` lets models with parameters their loss never touches train without
    the per-step unused-parameter search."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    dev = torch.device(device)
    newer = "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    no_sync: dict[str, bool] = {"forward_sync_buffers": False} if newer else {"broadcast_buffers": False}
    # static_graph: parameters a model never uses in its loss are found once, not every step
    return DistributedDataParallel(LossForward(model), device_ids=[dev] if dev.type == "cuda" else None,
                                   static_graph=True, **no_sync)


# --------------------------------------------------------------------------- launching
def torchrun_command(nproc: int, args: list[str], launch: TorchrunLaunch | None = None) -> list[str]:
    """The ``python -m torch.distributed.run ... -m recforge ARGS`` command for this node.

    Without ``launch``: ``nproc`` processes on this machine with a ``--standalone`` rendezvous
    (a free local port, so several launches on one machine never collide). With it: the
    node's share of a multi-node job (c10d rendezvous, see :mod:`recforge.core.launch`).
    """
    return (launch or TorchrunLaunch(nproc=nproc)).command(args)
