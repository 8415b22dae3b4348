"""``afm``: attentional factorization machine."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from recforge.core.components import Interaction, param
from recforge.plugins.interactions._blocks import (
    check_positive,
    check_rate,
    check_sizes,
    pair_indices,
)


class AFM(Interaction):
    """Attentional FM: pair products ``x_i * x_j`` pooled with softmax attention over pairs.

    ``a_ij = softmax(h . relu(W (x_i * x_j) + b))``; output ``p . sum a_ij (x_i * x_j)``,
    ``H = 1``. The attention over pairs of the last forward is kept in ``last_attention``
    (``[B, P]``, pairs ordered ``(0,1), (0,2), ..., (F-2,F-1)``) for analysis. With a single
    field there are no pairs and the output is 0.

    Args:
        attention_dim: hidden size of the attention network.
        dropout: dropout on the attention weights.

    Example:
        interaction: {name: afm, params: {attention_dim: 16}}
    """

    name = "afm"
    explains = ("last_attention",)

    @dataclass
    class Params:
        attention_dim: int = param(16, "hidden size of the attention network")
        dropout: float = param(0.0, "dropout on the attention weights")

    def __init__(self, num_fields: int, dim: int, params: AFM.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(self.name, attention_dim=params.attention_dim)
        check_rate(self.name, "dropout", params.dropout)
        rows, cols = pair_indices(num_fields)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.attention = nn.Sequential(
            nn.Linear(dim, params.attention_dim),
            nn.ReLU(),
            nn.Linear(params.attention_dim, 1, bias=False),
        )
        self.projection = nn.Linear(dim, 1, bias=False)
        self.dropout = nn.Dropout(params.dropout)
        self.last_attention: Tensor | None = None
        self.output_dim = 1

    def forward(self, x: Tensor) -> Tensor:
        products = x[:, self.rows] * x[:, self.cols]  # [B, P, D]
        if products.shape[1] == 0:
            return x.new_zeros(x.shape[0], 1)
        weights = torch.softmax(self.attention(products).squeeze(-1), dim=1)  # [B, P]
        self.last_attention = weights.detach()
        pooled = (self.dropout(weights).unsqueeze(-1) * products).sum(dim=1)
        return self.projection(pooled)
