"""CIN against the xDeepFM definition written as explicit loops."""

from __future__ import annotations

import torch

from recforge.core.components import build_params
from recforge.plugins.interactions.cin import CIN


def cin_by_loops(layer: CIN, x: torch.Tensor) -> torch.Tensor:
    """X^{k+1}_{h,d} = sum_{i,j} W^k[(i, j), h] X^k_{i,d} X^0_{j,d} + b_h; sum-pool over d."""
    batch, fields, dim = x.shape
    xk = x
    pooled = []
    for k, (w, bias) in enumerate(zip(layer.filters, layer.biases)):
        hk = xk.shape[1]
        nxt = torch.zeros(batch, w.shape[1], dim, dtype=x.dtype)
        for b in range(batch):
            for h in range(w.shape[1]):
                for d in range(dim):
                    total = bias[h].clone()
                    for i in range(hk):
                        for j in range(fields):
                            total = total + w[i * fields + j, h] * xk[b, i, d] * x[b, j, d]
                    nxt[b, h, d] = total
        last = k == len(layer.filters) - 1
        if layer.split_half and not last:
            half = nxt.shape[1] // 2
            xk, keep = nxt[:, :half], nxt[:, half:]
        else:
            xk, keep = nxt, nxt
        pooled.append(keep.sum(dim=2))
    return torch.cat(pooled, dim=1)


def test_cin_equals_explicit_loops() -> None:
    torch.manual_seed(0)
    layer = CIN(3, 2, build_params(CIN, {"layer_units": [4, 3]})).double()
    with torch.no_grad():
        for b in layer.biases:
            b.normal_()
    x = torch.randn(2, 3, 2, dtype=torch.float64)
    assert layer.output_dim == 7
    torch.testing.assert_close(layer(x), cin_by_loops(layer, x))


def test_cin_split_half_equals_explicit_loops() -> None:
    torch.manual_seed(1)
    layer = CIN(3, 2, build_params(CIN, {"layer_units": [4, 2, 3], "split_half": True})).double()
    x = torch.randn(2, 3, 2, dtype=torch.float64)
    assert layer.output_dim == 2 + 1 + 3
    torch.testing.assert_close(layer(x), cin_by_loops(layer, x))


def test_cin_first_layer_hand_computed() -> None:
    # F = 2, D = 1, one map with weights on (i, j) = (0, 1) and (1, 1): x0*x1 + x1*x1
    layer = CIN(2, 1, build_params(CIN, {"layer_units": [1]}))
    with torch.no_grad():
        layer.filters[0].copy_(torch.tensor([[0.0], [1.0], [0.0], [1.0]]))
    x = torch.tensor([[[2.0], [3.0]]])
    assert layer(x).item() == 2 * 3 + 3 * 3


def test_cin_odd_split_sizes_are_refused() -> None:
    import pytest

    from recforge.core.errors import ConfigError

    with pytest.raises(ConfigError, match="layer_units.*split_half"):
        CIN(3, 2, build_params(CIN, {"layer_units": [3, 4], "split_half": True}))
