"""``masknet``: instance-guided masks over the field vectors (MaskNet, serial or parallel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from recforge.core.components import Interaction, param
from recforge.plugins.interactions._blocks import MLPBlock, check_positive, check_rate, check_sizes


class MaskBlock(nn.Module):
    """``ReLU(LN(W (LN(v) * mask(e))))``, ``mask(e)`` a two-layer MLP of the fields ``e``."""

    def __init__(
        self,
        mask_input: int,
        hidden_input: int,
        output_dim: int,
        ratio: float,
        emb_norm: bool,
        net_norm: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        aggregation = max(1, int(hidden_input * ratio))
        self.mask = nn.Sequential(
            nn.Linear(mask_input, aggregation), nn.ReLU(), nn.Linear(aggregation, hidden_input)
        )
        self.input_norm = nn.LayerNorm(hidden_input) if emb_norm else nn.Identity()
        layers: list[nn.Module] = [nn.Linear(hidden_input, output_dim, bias=not net_norm)]
        if net_norm:
            layers.append(nn.LayerNorm(output_dim))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.hidden = nn.Sequential(*layers)

    def forward(self, fields: Tensor, hidden: Tensor) -> Tensor:
        return self.hidden(self.mask(fields) * self.input_norm(hidden))


class MaskNet(Interaction):
    """MaskNet: blocks multiply (layer-normed) features by masks computed from the instance.

    ``serial``: block ``k`` masks the previous block's output (sizes ``hidden_units``), ``H``
    = last size. ``parallel``: ``num_blocks`` blocks of size ``block_dim`` all mask the
    fields, their outputs are concatenated and read by an MLP (``hidden_units``). Accepts a
    flat input ``[B, 1, H]``.

    Args:
        structure: ``parallel`` or ``serial``.
        num_blocks: blocks in the parallel form.
        block_dim: output size of each parallel block.
        hidden_units: parallel: MLP after the blocks; serial: output size of each block.
        reduction_ratio: mask MLP hidden size as a multiple of the masked input size.
        emb_layernorm: LayerNorm the masked input.
        net_layernorm: LayerNorm each block's output.
        dropout: dropout after blocks and hidden layers.

    Example:
        interaction: {name: masknet, params: {structure: parallel, num_blocks: 2}}
    """

    name = "masknet"
    accepts_flat = True

    @dataclass
    class Params:
        structure: Literal["parallel", "serial"] = param("parallel", "parallel or serial blocks")
        num_blocks: int = param(1, "blocks in the parallel form")
        block_dim: int = param(64, "output size of each parallel block")
        hidden_units: list[int] = param(
            [64, 64, 64], "parallel: MLP after the blocks; serial: block sizes"
        )
        reduction_ratio: float = param(1.0, "mask MLP hidden size / masked input size")
        emb_layernorm: bool = param(True, "LayerNorm the masked input")
        net_layernorm: bool = param(True, "LayerNorm each block's output")
        dropout: float = param(0.0, "dropout after blocks and hidden layers")

    def __init__(self, num_fields: int, dim: int, params: MaskNet.Params) -> None:
        super().__init__()
        p = params
        check_sizes(self.name, num_fields, dim)
        check_positive(
            self.name, num_blocks=p.num_blocks, block_dim=p.block_dim, hidden_units=p.hidden_units
        )
        check_rate(self.name, "dropout", p.dropout)
        width = num_fields * dim
        self.structure = p.structure
        blocks = []
        if p.structure == "parallel":
            for _ in range(p.num_blocks):
                blocks.append(
                    MaskBlock(
                        width,
                        width,
                        p.block_dim,
                        p.reduction_ratio,
                        p.emb_layernorm,
                        p.net_layernorm,
                        p.dropout,
                    )
                )
            self.mlp = MLPBlock(p.block_dim * p.num_blocks, p.hidden_units, "relu", p.dropout)
            self.output_dim = self.mlp.output_dim
        else:
            size = width
            for units in p.hidden_units:
                blocks.append(
                    MaskBlock(
                        width,
                        size,
                        units,
                        p.reduction_ratio,
                        p.emb_layernorm,
                        p.net_layernorm,
                        p.dropout,
                    )
                )
                size = units
            self.output_dim = size
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor) -> Tensor:
        fields = x.flatten(1)
        if self.structure == "parallel":
            return self.mlp(torch.cat([block(fields, fields) for block in self.blocks], dim=1))
        hidden = fields
        for block in self.blocks:
            hidden = block(fields, hidden)
        return hidden
