"""``cin``: the compressed interaction network of xDeepFM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recforge.core.components import Interaction, param
from recforge.core.errors import ConfigError
from recforge.plugins.interactions._blocks import activation, check_positive, check_sizes

#: bytes of one row chunk's outer product in the CPU layer: small enough to stay in cache
#: between being built and being multiplied (and, in backward, reduced)
CHUNK_BYTES = 2 << 20


class _ChunkedCINLayer(torch.autograd.Function):
    """``maps = (X^k outer X^0) W + b`` over row chunks whose outer product stays in cache.

    The plain layer builds ``[B, D, H_k F]`` (67 MB for a 4096 batch of xDeepFM on 8 fields),
    writes it to memory, reads it back for the matmul, keeps it for the weight gradient and
    multiplies and reduces two more tensors of that size in backward: the CIN was bound by
    those memory passes, not by its matmuls. Here each chunk's outer product is built, used
    and dropped while it is still in cache, and backward rebuilds it chunk by chunk instead of
    keeping it (one extra element-wise multiply against three round trips to memory).
    """

    @staticmethod
    def forward(ctx: Any, xk: Tensor, x0: Tensor, w: Tensor, b: Tensor) -> Tensor:
        batch, dim, hk = xk.shape
        fields = x0.shape[-1]
        out = xk.new_empty(batch, dim, w.shape[1])
        step = _chunk_rows(dim, hk * fields, xk.element_size())
        for s in range(0, batch, step):
            e = min(batch, s + step)
            outer = (xk[s:e].unsqueeze(-1) * x0[s:e].unsqueeze(-2)).view((e - s) * dim, hk * fields)
            torch.addmm(b, outer, w, out=out[s:e].view((e - s) * dim, -1))
        ctx.save_for_backward(xk, x0, w)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        xk, x0, w = ctx.saved_tensors
        grad = grad.contiguous()
        batch, dim, hk = xk.shape
        fields = x0.shape[-1]
        grad_xk, grad_x0, grad_w = torch.empty_like(xk), torch.empty_like(x0), torch.zeros_like(w)
        step = _chunk_rows(dim, hk * fields, xk.element_size())
        for s in range(0, batch, step):
            e = min(batch, s + step)
            rows = (e - s) * dim
            xk_c, x0_c, g_c = xk[s:e], x0[s:e], grad[s:e].view(rows, -1)
            outer = (xk_c.unsqueeze(-1) * x0_c.unsqueeze(-2)).view(rows, hk * fields)
            grad_w.addmm_(outer.T, g_c)
            grad_outer = torch.mm(g_c, w.T).view(rows, hk, fields)
            # d/dX^k_i = sum_j g_ij X^0_j and d/dX^0_j = sum_i g_ij X^k_i, as batched mat-vecs
            torch.bmm(grad_outer, x0_c.reshape(rows, fields, 1), out=grad_xk[s:e].view(rows, hk, 1))
            torch.bmm(xk_c.reshape(rows, 1, hk), grad_outer, out=grad_x0[s:e].view(rows, 1, fields))
        return grad_xk, grad_x0, grad_w, grad.sum((0, 1))


def _chunk_rows(dim: int, width: int, itemsize: int) -> int:
    """Batch rows per chunk so that one chunk's ``[rows, D, width]`` fits in CHUNK_BYTES."""
    return max(1, CHUNK_BYTES // max(1, dim * width * itemsize))


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
        if x.device.type == "cpu":
            if torch.is_autocast_enabled("cpu"):
                # float32 on CPU even under autocast: measured on a [4096, 8, 16] batch, the
                # chunked layers take 83 ms forward + backward in float32 and 106 ms in bf16
                # (bf16 element-wise and small batched products are slower there); the MLP
                # beside the CIN still gets its bf16 matmuls
                with torch.autocast("cpu", enabled=False):
                    return self._layers(x.float(), chunked=True)
            return self._layers(x, chunked=True)
        x0_dtype = torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) else x.dtype
        # build the large outer products in the matmul dtype: a float32 X^0 would promote every
        # [B, D, H_k F] product to float32 and then cast it again for the matmul
        return self._layers(x.to(x0_dtype), chunked=False)

    def _layers(self, x: Tensor, chunked: bool) -> Tensor:
        x0 = x.transpose(1, 2).contiguous()  # [B, D, F]
        xk = x0
        outputs = []
        batch, dim, _ = x0.shape
        for k, (w, b) in enumerate(zip(self.filters, self.biases)):
            if chunked:
                maps = self.act(_ChunkedCINLayer.apply(xk.contiguous(), x0, w, b))
            else:
                outer = (xk.unsqueeze(-1) * x0.unsqueeze(-2)).reshape(batch, dim, -1)  # [B, D, H_k F]
                maps = self.act(F.linear(outer, w.T, b))  # [B, D, H_{k+1}]: one matmul, bias fused
            if self.split_half and k < len(self.filters) - 1:
                xk, keep = maps.split(maps.shape[-1] // 2, dim=-1)
            else:
                xk, keep = maps, maps
            outputs.append(keep.sum(dim=1))
        return torch.cat(outputs, dim=1)
