"""Building blocks shared by the interaction layers: activations, MLP stacks, field pairs, checks.

Kept in one place so that every layer validates its sizes the same way and the MLP used inside
NFM, PNN, FiBiNET, AFN, ... is the very module registered as ``mlp``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from recforge.core.errors import ConfigError, unknown_name

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "prelu": nn.PReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
    "linear": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (``relu``, ``prelu``, ``gelu``, ``tanh``, ...)."""
    cls = _ACTIVATIONS.get(name.lower())
    if cls is None:
        raise unknown_name(
            "activation", name, _ACTIVATIONS, fix=f"use one of {', '.join(_ACTIVATIONS)}"
        )
    return cls()


def check_sizes(layer: str, num_fields: int, dim: int) -> None:
    """Fail early, with the layer's name, on impossible field counts or dims."""
    if num_fields < 1 or dim < 1:
        raise ConfigError(
            f"interaction '{layer}' got num_fields={num_fields}, dim={dim}",
            fix="give it at least one field slot and an embedding dim >= 1",
        )


def check_positive(layer: str, **values: int | Sequence[int]) -> None:
    """Every named size (or list of sizes) must be a positive integer."""
    for key, value in values.items():
        items = list(value) if isinstance(value, list | tuple) else [value]
        if any(int(v) < 1 for v in items):
            raise ConfigError(
                f"interaction '{layer}' param '{key}' = {value!r} must be positive",
                fix=f"set '{key}' to whole numbers >= 1",
            )


def check_rate(layer: str, key: str, value: float) -> None:
    """Dropout-like rates live in [0, 1)."""
    if not 0.0 <= value < 1.0:
        raise ConfigError(
            f"interaction '{layer}' param '{key}' = {value} is outside [0, 1)",
            fix=f"set '{key}' to a rate such as 0.1",
        )


class MLPBlock(nn.Module):
    """Linear -> [BatchNorm] -> activation -> [Dropout], repeated per hidden size.

    ``output_dim`` is the last hidden size (or ``input_dim`` when there are no hidden layers,
    in which case the block is the identity).
    """

    def __init__(
        self,
        input_dim: int,
        hidden_units: Sequence[int],
        activation_name: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        output_dim: int | None = None,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = input_dim
        for units in hidden_units:
            layers.append(nn.Linear(size, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            layers.append(activation(activation_name))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            size = units
        if output_dim is not None:
            layers.append(nn.Linear(size, output_dim))
            size = output_dim
        self.net = nn.Sequential(*layers)
        self.output_dim = size

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def pair_indices(num_fields: int, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """Row and column indices of the field pairs ``i < j`` (row-major), each ``[F(F-1)/2]``."""
    rows, cols = torch.triu_indices(num_fields, num_fields, offset=1, device=device)
    return rows, cols


def num_pairs(num_fields: int) -> int:
    """Number of unordered field pairs, ``F(F-1)/2``."""
    return num_fields * (num_fields - 1) // 2


def sym_from_pairs(values: Tensor, num_fields: int) -> Tensor:
    """Symmetric ``[F, F]`` matrix, zero diagonal, from per-pair values in pair_indices order."""
    rows, cols = pair_indices(num_fields, values.device)
    out = values.new_zeros(num_fields, num_fields)
    out[rows, cols] = values
    out[cols, rows] = values
    return out
