"""``mlp``: a plain deep network over the flattened field vectors."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from recforge.core.components import Interaction, param
from recforge.plugins.interactions._blocks import MLPBlock, check_positive, check_rate, check_sizes


class MLP(Interaction):
    """Multi-layer perceptron over the concatenated field vectors (the "deep" part of most models).

    Implicit, bit-wise interactions of any order; the baseline every explicit-interaction
    layer is compared against. Accepts a flat input ``[B, 1, H]``, so it can follow any layer
    in a stack. ``H`` is the last hidden size.

    Args:
        hidden_units: sizes of the hidden layers.
        activation: hidden activation (relu, prelu, gelu, tanh, ...).
        dropout: dropout rate after each hidden layer.
        batch_norm: add BatchNorm1d after each linear layer.

    Example:
        interaction: {name: mlp, params: {hidden_units: [256, 128], dropout: 0.1}}
    """

    name = "mlp"
    accepts_flat = True

    @dataclass
    class Params:
        hidden_units: list[int] = param([64, 64, 64], "sizes of the hidden layers")
        activation: str = param("relu", "hidden activation: relu, prelu, gelu, tanh, ...")
        dropout: float = param(0.0, "dropout rate after each hidden layer")
        batch_norm: bool = param(False, "BatchNorm1d after each linear layer")

    def __init__(self, num_fields: int, dim: int, params: MLP.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(self.name, hidden_units=params.hidden_units)
        check_rate(self.name, "dropout", params.dropout)
        self.mlp = MLPBlock(
            num_fields * dim,
            params.hidden_units,
            params.activation,
            params.dropout,
            params.batch_norm,
        )
        self.output_dim = self.mlp.output_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x.flatten(1))
