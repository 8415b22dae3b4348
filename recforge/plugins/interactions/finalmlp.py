"""``finalmlp``: two MLP streams with feature selection and multi-head bilinear fusion."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from recforge.core.components import Interaction, param
from recforge.core.errors import ConfigError
from recforge.plugins.interactions._blocks import MLPBlock, check_positive, check_rate, check_sizes


class FeatureSelection(nn.Module):
    """Per-stream soft selection: ``x * 2 sigmoid(MLP(context))`` with a learned context."""

    def __init__(self, dim: int, width: int, hidden_units: list[int]) -> None:
        super().__init__()
        # a small random (not zero) context, so the gate's first layer gets a gradient at step 1
        self.context = nn.Parameter(0.01 * torch.randn(1, dim))
        self.gate = MLPBlock(dim, hidden_units, "relu", output_dim=width)
        self.last_gate: Tensor | None = None

    def forward(self, flat: Tensor) -> Tensor:
        gate = 2.0 * torch.sigmoid(self.gate(self.context))  # [1, F D]
        self.last_gate = gate.detach()
        return flat * gate


class BilinearFusion(nn.Module):
    """``w1.h1 + w2.h2 + sum_heads h1_k^T W_k h2_k`` over ``num_heads`` chunks; ``[B, 1]``."""

    def __init__(self, dim1: int, dim2: int, num_heads: int) -> None:
        super().__init__()
        if dim1 % num_heads or dim2 % num_heads:
            raise ConfigError(
                f"interaction 'finalmlp' stream sizes {dim1} and {dim2} are not divisible by "
                f"num_heads={num_heads}",
                fix="make the last hidden size of both MLPs a multiple of num_heads",
            )
        self.num_heads = num_heads
        self.w1 = nn.Linear(dim1, 1)
        self.w2 = nn.Linear(dim2, 1, bias=False)
        self.w12 = nn.Parameter(torch.empty(num_heads, dim1 // num_heads, dim2 // num_heads))
        nn.init.xavier_normal_(self.w12)

    def forward(self, h1: Tensor, h2: Tensor) -> Tensor:
        b = h1.shape[0]
        a1 = h1.view(b, self.num_heads, -1)
        a2 = h2.view(b, self.num_heads, -1)
        cross = torch.einsum("bhi,hij,bhj->b", a1, self.w12, a2).unsqueeze(1)
        return self.w1(h1) + self.w2(h2) + cross


class FinalMLP(Interaction):
    """FinalMLP: two MLP streams over differently gated fields, fused bilinearly, ``H = 1``.

    Each stream gates the flattened fields with its own feature-selection gate (``2 sigmoid``
    of an MLP over a learned context), runs its MLP, and the two outputs meet in a multi-head
    bilinear fusion that yields the logit. This layer is the whole FinalMLP model (defaults
    from FuxiCTR's ``FinalMLP_default``). Accepts a flat input ``[B, 1, H]``.

    Args:
        mlp1_hidden_units: hidden sizes of stream 1.
        mlp2_hidden_units: hidden sizes of stream 2.
        activation: hidden activation of both streams.
        mlp1_dropout: dropout in stream 1.
        mlp2_dropout: dropout in stream 2.
        batch_norm: BatchNorm1d in both streams.
        use_fs: use feature selection (else both streams see the same input).
        fs_hidden_units: hidden sizes of the feature-selection gates.
        num_heads: heads of the bilinear fusion.

    Example:
        interaction: {name: finalmlp, params: {mlp1_hidden_units: [400, 400], num_heads: 2}}
    """

    name = "finalmlp"
    accepts_flat = True

    @dataclass
    class Params:
        mlp1_hidden_units: list[int] = param([1024, 512], "hidden sizes of stream 1")
        mlp2_hidden_units: list[int] = param([1024, 512, 256], "hidden sizes of stream 2")
        activation: str = param("relu", "hidden activation of both streams")
        mlp1_dropout: float = param(0.0, "dropout in stream 1")
        mlp2_dropout: float = param(0.0, "dropout in stream 2")
        batch_norm: bool = param(False, "BatchNorm1d in both streams")
        use_fs: bool = param(True, "feature selection gates per stream")
        fs_hidden_units: list[int] = param([1024, 512], "hidden sizes of the selection gates")
        num_heads: int = param(2, "heads of the bilinear fusion")

    def __init__(self, num_fields: int, dim: int, params: FinalMLP.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(
            self.name,
            mlp1_hidden_units=params.mlp1_hidden_units,
            mlp2_hidden_units=params.mlp2_hidden_units,
            fs_hidden_units=params.fs_hidden_units,
            num_heads=params.num_heads,
        )
        check_rate(self.name, "mlp1_dropout", params.mlp1_dropout)
        check_rate(self.name, "mlp2_dropout", params.mlp2_dropout)
        width = num_fields * dim
        self.fs1 = FeatureSelection(dim, width, params.fs_hidden_units) if params.use_fs else None
        self.fs2 = FeatureSelection(dim, width, params.fs_hidden_units) if params.use_fs else None
        p = params
        self.mlp1 = MLPBlock(width, p.mlp1_hidden_units, p.activation, p.mlp1_dropout, p.batch_norm)
        self.mlp2 = MLPBlock(width, p.mlp2_hidden_units, p.activation, p.mlp2_dropout, p.batch_norm)
        self.fusion = BilinearFusion(self.mlp1.output_dim, self.mlp2.output_dim, p.num_heads)
        self.output_dim = 1

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(1)
        x1 = self.fs1(flat) if self.fs1 is not None else flat
        x2 = self.fs2(flat) if self.fs2 is not None else flat
        return self.fusion(self.mlp1(x1), self.mlp2(x2))
