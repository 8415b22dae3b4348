"""``gating``: learned, input-adaptive sigmoid weights per field, then an MLP."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from recforge.core.components import Interaction, param
from recforge.plugins.interactions._blocks import MLPBlock, check_positive, check_rate, check_sizes


class Gating(Interaction):
    """Adaptive field weighting: a sigmoid gate per field, computed from the example itself.

    ``g = sigmoid(MLP_g(vec(x)))`` gives every field slot a weight in (0, 1) (independent
    gates, not a distribution: several fields may matter fully at once); the gated fields
    ``g_f x_f`` are flattened into an MLP. ``last_weights`` holds the last forward's gates
    ``[B, F]``; their batch mean is a global field-importance estimate.

    Args:
        gate_hidden_units: hidden sizes of the gate network (empty = one linear layer).
        hidden_units: sizes of the MLP over the gated fields (empty = output them).
        activation: hidden activation.
        dropout: dropout after each hidden layer.
        gate_bias: initial gate logit (2.0 starts every gate near 0.88, i.e. open).

    Example:
        interaction: {name: gating, params: {hidden_units: [128, 64]}}
    """

    name = "gating"
    explains = ("last_weights",)

    @dataclass
    class Params:
        gate_hidden_units: list[int] = param([64], "hidden sizes of the gate network")
        hidden_units: list[int] = param([128, 64], "MLP over the gated fields (empty = none)")
        activation: str = param("relu", "hidden activation")
        dropout: float = param(0.0, "dropout after each hidden layer")
        gate_bias: float = param(2.0, "initial gate logit (2.0 = gates start mostly open)")

    def __init__(self, num_fields: int, dim: int, params: Gating.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(
            self.name, gate_hidden_units=params.gate_hidden_units, hidden_units=params.hidden_units
        )
        check_rate(self.name, "dropout", params.dropout)
        width = num_fields * dim
        self.gate = MLPBlock(
            width, params.gate_hidden_units, params.activation, output_dim=num_fields
        )
        last = self.gate.net[-1]
        assert isinstance(last, nn.Linear)
        nn.init.constant_(last.bias, params.gate_bias)
        self.mlp = MLPBlock(width, params.hidden_units, params.activation, params.dropout)
        self.output_dim = self.mlp.output_dim
        self.last_weights: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        gates = torch.sigmoid(self.gate(x.flatten(1)))  # [B, F]
        self.last_weights = gates.detach()
        return self.mlp((gates.unsqueeze(-1) * x).flatten(1))
