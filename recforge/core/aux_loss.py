"""Auxiliary training losses that model parts add to the main loss.

Some parts learn from a signal the ranking head does not see, e.g. the ``id-text`` encoder
aligns an item's text vector with its id embedding so text can stand in for the id of a cold
item. Such a module implements :class:`AuxiliaryLoss`; the model adds every pending auxiliary
loss of its modules to the head's loss at each training step.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor, nn


@runtime_checkable
class AuxiliaryLoss(Protocol):
    """A module whose last training forward left a loss term to add (None: nothing pending)."""

    def auxiliary_loss(self) -> Tensor | None: ...


def auxiliary_losses(model: nn.Module) -> Tensor | float:
    """The sum of every module's pending auxiliary loss (each is handed out once), or 0.0."""
    total: Tensor | float = 0.0
    for module in model.modules():
        if module is not model and isinstance(module, AuxiliaryLoss):
            loss = module.auxiliary_loss()
            if loss is not None:
                total = total + loss
    return total
