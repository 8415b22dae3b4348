"""CIN against the xDeepFM definition written as explicit loops."""

from __future__ import annotations

import pytest
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


def _grads(out: torch.Tensor, weights: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    return list(torch.autograd.grad((out * weights).sum(), inputs))


@pytest.mark.parametrize("split_half", [False, True])
def test_chunked_cpu_layer_matches_the_loops_in_value_and_gradient(monkeypatch, split_half) -> None:
    """Several chunks with a ragged last one: forward and every gradient equal the definition."""
    import recforge.plugins.interactions.cin as cin

    torch.manual_seed(2)
    layer = CIN(3, 2, build_params(CIN, {"layer_units": [4, 2, 3], "split_half": split_half})).double()
    with torch.no_grad():
        for b in layer.biases:
            b.normal_()
    x = torch.randn(7, 3, 2, dtype=torch.float64, requires_grad=True)
    # a chunk of 3 batch rows (D = 2, widest layer H_k F = 4 x 3): 7 rows = 3 + 3 + 1
    monkeypatch.setattr(cin, "CHUNK_BYTES", 3 * 2 * 12 * 8)
    assert cin._chunk_rows(2, 12, 8) == 3
    calls = []
    real = cin._ChunkedCINLayer.apply
    monkeypatch.setattr(cin._ChunkedCINLayer, "apply", lambda *a: calls.append(1) or real(*a))
    out = layer(x)
    assert len(calls) == 3, "the CPU path is the chunked layer"
    ref = cin_by_loops(layer, x)
    torch.testing.assert_close(out, ref)
    weights = torch.randn_like(out)
    inputs = [x, *layer.filters, *layer.biases]
    for got, want in zip(_grads(out, weights, inputs), _grads(ref, weights, inputs)):
        torch.testing.assert_close(got, want)


def test_chunked_layer_equals_the_one_matmul_form_on_a_real_size_batch() -> None:
    """The chunked path and the unchunked (autocast-off GPU-style) formula agree at B = 1000."""
    torch.manual_seed(3)
    layer = CIN(8, 16, build_params(CIN, {"layer_units": [32, 32]}))
    x = torch.randn(1000, 8, 16, requires_grad=True)
    out = layer(x)
    x0 = x.transpose(1, 2)
    xk, pooled = x0, []
    for w, b in zip(layer.filters, layer.biases):
        outer = (xk.unsqueeze(-1) * x0.unsqueeze(-2)).reshape(1000, 16, -1)
        xk = outer @ w + b
        pooled.append(xk.sum(1))
    ref = torch.cat(pooled, 1)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    weights = torch.randn_like(out)
    inputs = [x, *layer.filters, *layer.biases]
    for got, want in zip(_grads(out, weights, inputs), _grads(ref, weights, inputs)):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-3)


def test_unchunked_form_and_cpu_autocast_give_the_float32_result() -> None:
    """The one-matmul form (used off CPU) equals the chunked one; under CPU autocast the CIN
    stays in float32 (bf16 was slower there), so its output is the float32 output."""
    torch.manual_seed(4)
    layer = CIN(8, 16, build_params(CIN, {"layer_units": [32, 32], "split_half": True}))
    x = torch.randn(300, 8, 16)
    out = layer(x)
    torch.testing.assert_close(layer._layers(x, chunked=False), out, rtol=1e-4, atol=1e-4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        amp_out = layer(x)
    assert amp_out.dtype == torch.float32
    torch.testing.assert_close(amp_out, out)
