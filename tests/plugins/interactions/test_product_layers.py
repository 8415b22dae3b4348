"""PNN products and FiBiNET's SENET + bilinear layers against explicit loops."""

from __future__ import annotations

import itertools

import pytest
import torch

from recforge.core.components import build_params
from recforge.plugins.interactions.fibinet import Bilinear, FiBiNET, SENet
from recforge.plugins.interactions.pnn import IPNN, OPNN

PAIRS4 = list(itertools.combinations(range(4), 2))


def test_ipnn_products_are_pairwise_inner_products() -> None:
    layer = IPNN(4, 3, IPNN.Params())
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    expected = torch.stack([(x[:, i] * x[:, j]).sum(-1) for i, j in PAIRS4], dim=1)
    torch.testing.assert_close(layer.products(x), expected)


@pytest.mark.parametrize("kernel", ["mat", "vec", "num"])
def test_opnn_products_contract_each_outer_product_with_its_kernel(kernel: str) -> None:
    torch.manual_seed(0)
    layer = OPNN(4, 3, build_params(OPNN, {"kernel": kernel})).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    got = layer.products(x)
    for p, (i, j) in enumerate(PAIRS4):
        k = layer.kernel[p]
        matrix = (
            k
            if kernel == "mat"
            else torch.diag(k)
            if kernel == "vec"
            else k * torch.eye(3, dtype=torch.float64)
        )
        for b in range(2):
            outer = torch.outer(x[b, i], x[b, j])
            torch.testing.assert_close(got[b, p], (outer * matrix).sum())


@pytest.mark.parametrize("kind", ["field_all", "field_each", "field_interaction"])
def test_bilinear_equals_loops(kind: str) -> None:
    torch.manual_seed(1)
    layer = Bilinear(4, 3, kind).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    got = layer(x)
    assert got.shape == (2, 6, 3)
    for p, (i, j) in enumerate(PAIRS4):
        w = layer.weight[{"field_all": 0, "field_each": i, "field_interaction": p}[kind]]
        for b in range(2):
            torch.testing.assert_close(got[b, p], (x[b, i] @ w) * x[b, j])


def test_senet_reweights_fields_by_excitation_of_their_means() -> None:
    torch.manual_seed(2)
    layer = SENet(4, 2.0).double()
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    out = layer(x)
    first, second = layer.excitation[0].weight, layer.excitation[2].weight
    weights = torch.relu(torch.relu(x.mean(-1) @ first.T) @ second.T)
    torch.testing.assert_close(layer.last_weights, weights)
    torch.testing.assert_close(out, x * weights.unsqueeze(-1))


def test_fibinet_reads_both_bilinear_views() -> None:
    torch.manual_seed(3)
    layer = FiBiNET(3, 2, build_params(FiBiNET, {"hidden_units": []})).double()
    x = torch.randn(2, 3, 2, dtype=torch.float64)
    expected = torch.cat(
        [layer.bilinear(x).flatten(1), layer.bilinear_weighted(layer.senet(x)).flatten(1)], 1
    )
    assert layer.output_dim == 2 * 3 * 2
    torch.testing.assert_close(layer(x), expected)
