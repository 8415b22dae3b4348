"""MLP, AFN, FinalMLP and MaskNet against their formulas."""

from __future__ import annotations

import torch

from recforge.core.components import build_params
from recforge.plugins.interactions.afn import AFN
from recforge.plugins.interactions.finalmlp import FinalMLP
from recforge.plugins.interactions.masknet import MaskNet
from recforge.plugins.interactions.mlp import MLP


def test_mlp_structure_and_value() -> None:
    layer = MLP(
        2, 3, build_params(MLP, {"hidden_units": [4, 2], "batch_norm": True, "dropout": 0.1})
    )
    kinds = [type(m).__name__ for m in layer.mlp.net]
    assert kinds == [
        "Linear",
        "BatchNorm1d",
        "ReLU",
        "Dropout",
        "Linear",
        "BatchNorm1d",
        "ReLU",
        "Dropout",
    ]
    plain = MLP(2, 3, build_params(MLP, {"hidden_units": [4], "activation": "tanh"})).eval()
    x = torch.randn(5, 2, 3)
    lin = plain.mlp.net[0]
    torch.testing.assert_close(plain(x), torch.tanh(lin(x.flatten(1))))
    assert plain.output_dim == 4


def test_afn_neurons_are_products_of_powers() -> None:
    """Without normalisation neuron j is prod_i |x_i|^{w_ji} * e^{b_j} per dimension."""
    torch.manual_seed(0)
    p = build_params(AFN, {"logarithmic_neurons": 2, "hidden_units": [3], "log_batch_norm": False})
    layer = AFN(3, 2, p).double()
    with torch.no_grad():
        layer.coefficients.weight.copy_(torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.0, -1.0]]))
        layer.coefficients.bias.zero_()
    x = torch.tensor([[[2.0, -1.0], [3.0, 2.0], [4.0, 0.5]]], dtype=torch.float64)
    # neuron 0: |x0| * |x1|^2 -> (18, 4); neuron 1: |x0|^0.5 / |x2| -> (sqrt2/4, 2)
    crosses = torch.tensor([[18.0, 2**0.5 / 4], [4.0, 2.0]], dtype=torch.float64)  # [D, L]
    expected = layer.mlp(crosses.flatten().unsqueeze(0))
    torch.testing.assert_close(layer(x), expected)


def test_finalmlp_fusion_formula() -> None:
    torch.manual_seed(1)
    p = build_params(
        FinalMLP,
        {
            "mlp1_hidden_units": [4],
            "mlp2_hidden_units": [6],
            "fs_hidden_units": [3],
            "num_heads": 2,
        },
    )
    layer = FinalMLP(3, 2, p).double()
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    flat = x.flatten(1)
    g1 = 2 * torch.sigmoid(layer.fs1.gate(layer.fs1.context))
    g2 = 2 * torch.sigmoid(layer.fs2.gate(layer.fs2.context))
    h1, h2 = layer.mlp1(flat * g1), layer.mlp2(flat * g2)
    f = layer.fusion
    cross = sum(
        torch.einsum("bi,ij,bj->b", h1[:, 2 * k : 2 * k + 2], f.w12[k], h2[:, 3 * k : 3 * k + 3])
        for k in range(2)
    )
    expected = f.w1(h1) + f.w2(h2) + cross.unsqueeze(1)
    torch.testing.assert_close(layer(x), expected)
    assert ((g1 > 0) & (g1 < 2)).all()


def test_masknet_serial_block_formula() -> None:
    torch.manual_seed(2)
    p = build_params(
        MaskNet,
        {
            "structure": "serial",
            "hidden_units": [5],
            "emb_layernorm": False,
            "net_layernorm": False,
        },
    )
    layer = MaskNet(2, 3, p).double()
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    e = x.flatten(1)
    block = layer.blocks[0]
    expected = torch.relu(block.hidden[0](block.mask(e) * e))
    torch.testing.assert_close(layer(x), expected)
    assert layer.output_dim == 5


def test_masknet_parallel_concatenates_blocks() -> None:
    p = build_params(MaskNet, {"num_blocks": 3, "block_dim": 4, "hidden_units": [7]})
    layer = MaskNet(2, 3, p)
    assert layer.mlp.net[0].in_features == 12 and layer.output_dim == 7
