"""``cin``: the compressed interaction network of xDeepFM."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recforge.core.components import Interaction, param
from recforge.core.errors import ConfigError
from recforge.plugins.interactions._blocks import activation, check_positive, check_sizes


class CIN(Interaction):
    """Compressed interaction network: vector-wise explicit interactions of bounded degree.

    Layer ``k``: ``X^{k+1}_{h,:} = sum_{i,j} W^k_{h,ij} (X^k_{i,:} * X^0_{j,:})``. Each layer
    is one outer product of ``X^k`` and ``X^0`` over the field axes, flattened to
    ``[B, D, H_k F]``, and one matrix multiply with the filter matrix ``[H_k F, H_{k+1}]``
    (not a 1-D convolution over small slices). Every layer's maps are sum-pooled over ``D``
    and concatenated, so ``H = sum(layer_units)`` (halved for all but the last layer with
    ``split_half``).

    Args:
        layer_units: feature maps per CIN layer.
        activation: activation on each layer's maps (xDeepFM uses identity).
        split_half: feed half of each hidden layer forward and pool the other half (as in
            the xDeepFM reference code); all but the last size must then be even.

    Example:
        interaction: {name: cin, params: {layer_units: [32, 32, 32]}}
    """

    name = "cin"

    @dataclass
    class Params:
        layer_units: list[int] = param([32, 32, 32], "feature maps per CIN layer")
        activation: str = param("identity", "activation on each layer's maps")
        split_half: bool = param(False, "forward half of each hidden layer, pool the other half")

    def __init__(self, num_fields: int, dim: int, params: CIN.Params) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        check_positive(self.name, layer_units=params.layer_units)
        units = list(params.layer_units)
        if params.split_half and any(u % 2 for u in units[:-1]):
            raise ConfigError(
                f"interaction 'cin' param 'layer_units' = {units} has an odd size before the last "
                "layer, which split_half cannot halve",
                fix="make every size but the last even, or set split_half: false",
            )
        self.split_half = params.split_half
        self.act = activation(params.activation)
        self.filters = nn.ParameterList()
        self.biases = nn.ParameterList()
        prev, pooled = num_fields, 0
        for k, size in enumerate(units):
            fan_in = prev * num_fields
            self.filters.append(nn.Parameter(torch.randn(fan_in, size) * fan_in**-0.5))
            self.biases.append(nn.Parameter(torch.zeros(size)))
            last = k == len(units) - 1
            forward_size = size // 2 if params.split_half and not last else size
            pooled += size - forward_size if params.split_half and not last else size
            prev = forward_size
        self.output_dim = pooled

    def forward(self, x: Tensor) -> Tensor:
        x0 = x.transpose(1, 2)  # [B, D, F]
        if torch.is_autocast_enabled(x.device.type):
            # build the large outer products in the matmul dtype: a float32 X^0 would promote
            # every [B, D, H_k F] product to float32 and then cast it again for the matmul
            x0 = x0.to(torch.get_autocast_dtype(x.device.type))
        xk = x0
        outputs = []
        batch, dim, fields = x0.shape
        for k, (w, b) in enumerate(zip(self.filters, self.biases)):
            outer = (xk.unsqueeze(-1) * x0.unsqueeze(-2)).reshape(batch, dim, -1)  # [B, D, H_k F]
            maps = self.act(F.linear(outer, w.T, b))  # [B, D, H_{k+1}]: one matmul, bias fused
            if self.split_half and k < len(self.filters) - 1:
                xk, keep = maps.split(maps.shape[-1] // 2, dim=-1)
            else:
                xk, keep = maps, maps
            outputs.append(keep.sum(dim=1))
        return torch.cat(outputs, dim=1)
