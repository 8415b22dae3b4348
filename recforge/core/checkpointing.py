"""Per-epoch checkpoints of a training run: write the newest, prune the old, restore the latest.

The file format (safetensors + JSON, never pickle) lives in
:mod:`recforge.core.saved_model`; this module holds the trainer's policy around it: one
``epoch-NNNN`` folder per epoch under the run's ``checkpoints`` folder, the last
:data:`KEEP_CHECKPOINTS` kept. Checkpoints hold the *unwrapped* model's weights, so a run
started on N processes can be resumed on M (DistributedDataParallel is a wrapper, not part of
the saved state).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from recforge.core.saved_model import latest_checkpoint, read_checkpoint, write_checkpoint

KEEP_CHECKPOINTS = 2


def save_epoch(root: Path, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer,
               loop_state: dict[str, Any], best_state: dict[str, Tensor] | None,
               keep: int = KEEP_CHECKPOINTS) -> Path:
    """Write ``root/epoch-<epoch>`` and delete all but the newest ``keep`` checkpoints."""
    folder = root / f"epoch-{epoch:04d}"
    write_checkpoint(folder, model, optimizer, loop_state, best_state)
    done = sorted(p for p in root.glob("epoch-*") if p.suffix != ".tmp")
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def load_latest(root: Path | None, model: nn.Module, optimizer: torch.optim.Optimizer
                ) -> tuple[Path, dict[str, Any], dict[str, Tensor] | None] | None:
    """Restore the newest complete checkpoint into ``model``/``optimizer``.

    Returns ``(folder, loop state, best weights)``, or None when there is no checkpoint.
    """
    folder = latest_checkpoint(root) if root is not None else None
    if folder is None:
        return None
    state, best = read_checkpoint(folder, model, optimizer)
    return folder, state, best
