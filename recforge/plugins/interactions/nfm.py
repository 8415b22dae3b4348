"""``nfm``: neural factorization machine (bi-interaction pooling followed by an MLP)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from recforge.core.components import Interaction, param
from recforge.plugins.interactions._blocks import MLPBlock, check_positive, check_rate, check_sizes
from recforge.plugins.interactions.fm import bi_interaction


class NFM(Interaction):
    """Neural FM: bi-interaction pooling ``[B, D]`` (FM per dimension), then an MLP.

    The pooling keeps all second-order information in one ``D`` vector; the MLP adds higher
    orders on top of it. ``H`` is the last hidden size (``D`` without hidden layers).

    Args:
        hidden_units: sizes of the MLP after the pooling.
        activation: hidden activation.
        dropout: dropout on the pooled vector and after each hidden layer.
        batch_norm: BatchNorm on the pooled vector and after each hidden linear layer.

    Example:
        interaction: {name: nfm, params: {hidden_units: [64], dropout: 0.2}}
    """

    name = "nfm"

    @dataclass
    class Params:
        hidden_units: list[int] = param([64, 64, 64], "sizes of the MLP after the pooling")
        activation: str = param("relu", "hidden activation")
        dropout: float = param(0.0, "dropout on the pooled vector and hidden layers")
        batch_norm: bool = param(False, "BatchNorm on the pooled vector and hidden layers")

    def __init__(self, num_fields: int, dim: int, params: NFM.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(self.name, hidden_units=params.hidden_units)
        check_rate(self.name, "dropout", params.dropout)
        pool: list[nn.Module] = []
        if params.batch_norm:
            pool.append(nn.BatchNorm1d(dim))
        if params.dropout > 0:
            pool.append(nn.Dropout(params.dropout))
        self.pool_norm = nn.Sequential(*pool)
        self.mlp = MLPBlock(
            dim, params.hidden_units, params.activation, params.dropout, params.batch_norm
        )
        self.output_dim = self.mlp.output_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(self.pool_norm(bi_interaction(x)))
