"""``crossnet`` (DCN) and ``crossnet-v2`` (DCNv2, full-rank or low-rank mixture = DCN-Mix)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from recforge.core.components import Interaction, param
from recforge.plugins.interactions._blocks import check_positive, check_sizes


class CrossNet(Interaction):
    """DCN cross network: ``x_{l+1} = x_0 (x_l . w_l) + b_l + x_l`` over ``x_0 = vec(x)``.

    Each layer raises the polynomial degree by one with only ``2 F D`` parameters. Accepts a
    flat input ``[B, 1, H]``; ``H = F * D``.

    Args:
        num_layers: number of cross layers.

    Example:
        interaction: {name: crossnet, params: {num_layers: 3}}
    """

    name = "crossnet"
    accepts_flat = True

    @dataclass
    class Params:
        num_layers: int = param(3, "number of cross layers")

    def __init__(self, num_fields: int, dim: int, params: CrossNet.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(self.name, num_layers=params.num_layers)
        width = num_fields * dim
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.randn(width) * width**-0.5) for _ in range(params.num_layers)]
        )
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(width)) for _ in range(params.num_layers)]
        )
        self.output_dim = width

    def forward(self, x: Tensor) -> Tensor:
        x0 = x.flatten(1)
        xl = x0
        for w, b in zip(self.weights, self.biases):
            xl = x0 * (xl @ w).unsqueeze(1) + b + xl
        return xl


class CrossNetV2(Interaction):
    """DCNv2 cross network ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` (full rank), or DCN-Mix.

    With ``low_rank > 0`` each layer is a mixture of ``num_experts`` low-rank experts
    ``E_i(x_l) = x_0 * (U_i tanh(C_i tanh(V_i^T x_l)) + b_l)`` weighted by a softmax gate
    ``G(x_l)``, then ``+ x_l``. Accepts a flat input ``[B, 1, H]``; ``H = F * D``.

    Args:
        num_layers: number of cross layers.
        low_rank: rank of the experts; 0 = full-rank DCNv2 layers.
        num_experts: experts per layer in the low-rank mixture.

    Example:
        interaction: {name: crossnet-v2, params: {num_layers: 3, low_rank: 32, num_experts: 4}}
    """

    name = "crossnet-v2"
    accepts_flat = True

    @dataclass
    class Params:
        num_layers: int = param(3, "number of cross layers")
        low_rank: int = param(0, "rank of the mixture experts; 0 = full-rank DCNv2")
        num_experts: int = param(4, "experts per layer when low_rank > 0")

    def __init__(self, num_fields: int, dim: int, params: CrossNetV2.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(self.name, num_layers=params.num_layers, num_experts=params.num_experts)
        if params.low_rank < 0:
            check_positive(self.name, low_rank=params.low_rank)
        width = num_fields * dim
        self.low_rank = params.low_rank
        self.output_dim = width
        if params.low_rank == 0:
            self.layers = nn.ModuleList([nn.Linear(width, width) for _ in range(params.num_layers)])
            return
        shape = (params.num_layers, params.num_experts)
        r = params.low_rank
        self.v = nn.Parameter(torch.randn(*shape, width, r) * width**-0.5)
        self.c = nn.Parameter(torch.randn(*shape, r, r) * r**-0.5)
        self.u = nn.Parameter(torch.randn(*shape, r, width) * r**-0.5)
        self.bias = nn.Parameter(torch.zeros(params.num_layers, width))
        self.gates = nn.ModuleList(
            [nn.Linear(width, params.num_experts, bias=False) for _ in range(params.num_layers)]
        )

    def forward(self, x: Tensor) -> Tensor:
        x0 = x.flatten(1)
        xl = x0
        if self.low_rank == 0:
            for layer in self.layers:
                xl = x0 * layer(xl) + xl
            return xl
        for layer, gate in enumerate(self.gates):
            h = torch.tanh(torch.einsum("bw,ewr->ber", xl, self.v[layer]))  # [B, E, r]
            h = torch.tanh(torch.einsum("ber,ers->bes", h, self.c[layer]))
            experts = x0.unsqueeze(1) * (
                torch.einsum("ber,erw->bew", h, self.u[layer])
                + self.bias[layer].unsqueeze(0).unsqueeze(0)
            )
            weights = torch.softmax(gate(xl), dim=1).unsqueeze(-1)  # [B, E, 1]
            xl = (weights * experts).sum(dim=1) + xl
        return xl
