"""``attention-fusion``: softmax attention over field slots (text vectors included), then an MLP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from recforge.core.components import Interaction, param
from recforge.core.errors import ConfigError
from recforge.plugins.interactions._blocks import MLPBlock, check_positive, check_rate, check_sizes


class AttentionFusion(Interaction):
    """Attention fusion: each field slot gets a softmax weight, the weighted fields are fused.

    Scores ``s_f = q . tanh(W x_f + b)`` are turned into weights ``a = softmax(s)`` over the
    ``F`` slots (categorical, multi-valued and language-model text vectors alike), so the
    model learns per example how much each field — e.g. an item's description — should
    count. ``pooling: sum`` fuses ``sum_f a_f x_f`` (``[B, D]``); ``pooling: concat`` keeps the
    re-weighted slots ``F a_f x_f`` side by side (``[B, F D]``). An MLP (``hidden_units``;
    empty = none) follows. ``last_weights`` holds the last forward's weights ``[B, F]``.

    Args:
        attention_dim: hidden size of the scoring network.
        pooling: ``sum`` (weighted sum of slots) or ``concat`` (re-weighted slots side by side).
        hidden_units: sizes of the MLP after fusion (empty = output the fused vector).
        activation: hidden activation.
        dropout: dropout after each hidden layer.
        temperature: softmax temperature (lower = sharper field selection).

    Example:
        interaction: {name: attention-fusion, params: {pooling: concat, hidden_units: [128, 64]}}
    """

    name = "attention-fusion"
    explains = ("last_weights",)

    @dataclass
    class Params:
        attention_dim: int = param(32, "hidden size of the scoring network")
        pooling: Literal["sum", "concat"] = param(
            "concat", "weighted sum of slots, or re-weighted slots side by side"
        )
        hidden_units: list[int] = param([128, 64], "MLP after fusion (empty = none)")
        activation: str = param("relu", "hidden activation")
        dropout: float = param(0.0, "dropout after each hidden layer")
        temperature: float = param(1.0, "softmax temperature")

    def __init__(self, num_fields: int, dim: int, params: AttentionFusion.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(
            self.name, attention_dim=params.attention_dim, hidden_units=params.hidden_units
        )
        check_rate(self.name, "dropout", params.dropout)
        if params.temperature <= 0:
            raise ConfigError(
                f"interaction 'attention-fusion' param 'temperature' = {params.temperature} "
                "must be > 0",
                fix="set temperature to a positive number such as 1.0",
            )
        self.score = nn.Sequential(
            nn.Linear(dim, params.attention_dim),
            nn.Tanh(),
            nn.Linear(params.attention_dim, 1, bias=False),
        )
        self.pooling = params.pooling
        self.temperature = params.temperature
        fused = dim if params.pooling == "sum" else num_fields * dim
        self.mlp = MLPBlock(fused, params.hidden_units, params.activation, params.dropout)
        self.output_dim = self.mlp.output_dim
        self.last_weights: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        weights = torch.softmax(self.score(x).squeeze(-1) / self.temperature, dim=1)  # [B, F]
        self.last_weights = weights.detach()
        if self.pooling == "sum":
            fused = (weights.unsqueeze(-1) * x).sum(dim=1)
        else:  # scaled by F so uniform weights leave the fields unchanged
            fused = (weights.unsqueeze(-1) * x * x.shape[1]).flatten(1)
        return self.mlp(fused)
