"""``ipnn`` and ``opnn``: product-based neural networks (inner and outer product layers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from recforge.core.components import Interaction, param
from recforge.plugins.interactions._blocks import (
    MLPBlock,
    check_positive,
    check_rate,
    check_sizes,
    num_pairs,
    pair_indices,
)


@dataclass
class PNNParams:
    """Knobs shared by both product networks."""

    hidden_units: list[int] = param([64, 64, 64], "sizes of the MLP over [fields, products]")
    activation: str = param("relu", "hidden activation")
    dropout: float = param(0.0, "dropout after each hidden layer")
    batch_norm: bool = param(False, "BatchNorm1d after each hidden linear layer")


class _ProductNetwork(Interaction):
    """Shared body: concatenate the flattened fields with the pair products, then an MLP."""

    def __init__(self, num_fields: int, dim: int, params: PNNParams, product_size: int) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(self.name, hidden_units=params.hidden_units)
        check_rate(self.name, "dropout", params.dropout)
        rows, cols = pair_indices(num_fields)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.mlp = MLPBlock(
            num_fields * dim + product_size,
            params.hidden_units,
            params.activation,
            params.dropout,
            params.batch_norm,
        )
        self.output_dim = self.mlp.output_dim

    def products(self, x: Tensor) -> Tensor:
        """Per-pair product signals ``[B, P']``."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(torch.cat([x.flatten(1), self.products(x)], dim=1))


class IPNN(_ProductNetwork):
    """Inner-product network: MLP over ``[vec(x), <x_i, x_j> for i < j]``.

    Args:
        hidden_units: sizes of the MLP over fields and products.
        activation: hidden activation.
        dropout: dropout after each hidden layer.
        batch_norm: BatchNorm1d after each hidden linear layer.

    Example:
        interaction: {name: ipnn, params: {hidden_units: [128, 64]}}
    """

    name = "ipnn"
    Params = PNNParams

    def __init__(self, num_fields: int, dim: int, params: PNNParams) -> None:
        super().__init__(num_fields, dim, params, num_pairs(num_fields))

    def products(self, x: Tensor) -> Tensor:
        return (x[:, self.rows] * x[:, self.cols]).sum(dim=-1)


@dataclass
class OPNNParams(PNNParams):
    """Product networks' knobs plus the outer-product kernel shape."""

    kernel: Literal["mat", "vec", "num"] = param(
        "mat", "kernel per pair: full D x D matrix, diagonal vector, or one scalar"
    )


class OPNN(_ProductNetwork):
    """Outer-product network: MLP over ``[vec(x), x_i^T K_ij x_j for i < j]``.

    The outer product ``x_i x_j^T`` is contracted with a learned kernel per pair (a full
    ``D x D`` matrix, a diagonal, or a scalar), giving one signal per pair.

    Args:
        hidden_units: sizes of the MLP over fields and products.
        activation: hidden activation.
        dropout: dropout after each hidden layer.
        batch_norm: BatchNorm1d after each hidden linear layer.
        kernel: ``mat`` (full matrix), ``vec`` (diagonal) or ``num`` (scalar) kernel per pair.

    Example:
        interaction: {name: opnn, params: {kernel: mat}}
    """

    name = "opnn"
    Params = OPNNParams

    def __init__(self, num_fields: int, dim: int, params: OPNNParams) -> None:
        super().__init__(num_fields, dim, params, num_pairs(num_fields))
        pairs = num_pairs(num_fields)
        self.kernel_type = params.kernel
        shape = {"mat": (pairs, dim, dim), "vec": (pairs, dim), "num": (pairs, 1)}[params.kernel]
        # start from the inner product (identity / ones kernels) plus noise, so OPNN begins as
        # IPNN and learns how each pair's dimensions should mix
        base = (
            torch.eye(dim).expand(pairs, dim, dim) if params.kernel == "mat" else torch.ones(shape)
        )
        self.kernel = nn.Parameter(base + 0.01 * torch.randn(shape))

    def products(self, x: Tensor) -> Tensor:
        left, right = x[:, self.rows], x[:, self.cols]  # [B, P, D]
        if self.kernel_type == "mat":
            left = torch.einsum("bpd,pde->bpe", left, self.kernel)
            return (left * right).sum(dim=-1)
        return (left * right * self.kernel).sum(dim=-1)
