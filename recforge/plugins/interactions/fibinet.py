"""``fibinet``: SENET field re-weighting plus bilinear pair interactions (FiBiNET)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from recforge.core.components import Explainable, Interaction, param
from recforge.core.errors import ConfigError
from recforge.plugins.interactions._blocks import (
    MLPBlock,
    check_positive,
    check_rate,
    check_sizes,
    num_pairs,
    pair_indices,
)


class SENet(nn.Module, Explainable):
    """Squeeze (mean over D) -> excitation (F -> F/r -> F, ReLU) -> re-weight each field."""

    explains = ("last_weights",)

    def __init__(self, num_fields: int, reduction_ratio: float) -> None:
        super().__init__()
        hidden = max(2, int(num_fields / reduction_ratio))
        self.excitation = nn.Sequential(
            nn.Linear(num_fields, hidden, bias=False),
            nn.ReLU(),
            nn.Linear(hidden, num_fields, bias=False),
            nn.ReLU(),
        )
        # with few fields the squeeze has one or two units; a negative start on the last layer
        # would zero every field weight (dead ReLU) and stop learning, so it starts non-negative
        with torch.no_grad():
            self.excitation[2].weight.abs_()
        self.last_weights: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        weights = self.excitation(x.mean(dim=-1))  # [B, F]
        self.last_weights = weights.detach()
        return x * weights.unsqueeze(-1)


class Bilinear(nn.Module):
    """``p_ij = (x_i W) * x_j`` for ``i < j`` with ``W`` shared (field_all), per field
    (field_each) or per pair (field_interaction); returns ``[B, P, D]``."""

    def __init__(self, num_fields: int, dim: int, kind: str) -> None:
        super().__init__()
        count = {
            "field_all": 1,
            "field_each": num_fields,
            "field_interaction": num_pairs(num_fields),
        }[kind]
        self.kind = kind
        self.weight = nn.Parameter(torch.randn(count, dim, dim) * dim**-0.5)
        rows, cols = pair_indices(num_fields)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        left, right = x[:, self.rows], x[:, self.cols]  # [B, P, D]
        if self.kind == "field_all":
            projected = left @ self.weight[0]
        elif self.kind == "field_each":
            projected = torch.einsum("bpd,pde->bpe", left, self.weight[self.rows])
        else:
            projected = torch.einsum("bpd,pde->bpe", left, self.weight)
        return projected * right


class FiBiNET(Interaction):
    """FiBiNET body: SENET re-weights fields, bilinear layers cross the original and the
    re-weighted fields, and an MLP reads both, ``H`` = last hidden size.

    The whole FiBiNET model (with its linear part) is the preset ``fibinet-model``.
    ``senet_weights`` holds the last forward's field importances ``[B, F]``.

    Args:
        reduction_ratio: SENET squeeze ratio ``r`` (hidden size ``F / r``).
        bilinear_type: ``field_all``, ``field_each`` or ``field_interaction``.
        hidden_units: sizes of the MLP over both bilinear outputs (empty = no MLP,
            ``H = 2 P D``).
        activation: hidden activation.
        dropout: dropout after each hidden layer.
        batch_norm: BatchNorm1d after each hidden linear layer.

    Example:
        interaction: {name: fibinet, params: {bilinear_type: field_interaction}}
    """

    name = "fibinet"

    @dataclass
    class Params:
        reduction_ratio: float = param(3.0, "SENET squeeze ratio (hidden size F / r)")
        bilinear_type: Literal["field_all", "field_each", "field_interaction"] = param(
            "field_interaction", "one shared W, one per field, or one per field pair"
        )
        hidden_units: list[int] = param(
            [500, 500, 500], "sizes of the MLP over the bilinear outputs"
        )
        activation: str = param("relu", "hidden activation")
        dropout: float = param(0.0, "dropout after each hidden layer")
        batch_norm: bool = param(False, "BatchNorm1d after each hidden linear layer")

    def __init__(self, num_fields: int, dim: int, params: FiBiNET.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(self.name, hidden_units=params.hidden_units)
        check_rate(self.name, "dropout", params.dropout)
        if params.reduction_ratio <= 0:
            raise ConfigError(
                f"interaction 'fibinet' param 'reduction_ratio' = {params.reduction_ratio} "
                "must be > 0",
                fix="set reduction_ratio to a positive number such as 3",
            )
        self.senet = SENet(num_fields, params.reduction_ratio)
        # separate bilinear weights for the original and the re-weighted fields (as FuxiCTR)
        self.bilinear = Bilinear(num_fields, dim, params.bilinear_type)
        self.bilinear_weighted = Bilinear(num_fields, dim, params.bilinear_type)
        self.mlp = MLPBlock(
            2 * num_pairs(num_fields) * dim,
            params.hidden_units,
            params.activation,
            params.dropout,
            params.batch_norm,
        )
        self.output_dim = self.mlp.output_dim

    @property
    def senet_weights(self) -> Tensor | None:
        """Field importances ``[B, F]`` from the last forward."""
        return self.senet.last_weights

    def forward(self, x: Tensor) -> Tensor:
        plain = self.bilinear(x).flatten(1)
        weighted = self.bilinear_weighted(self.senet(x)).flatten(1)
        return self.mlp(torch.cat([plain, weighted], dim=1))
