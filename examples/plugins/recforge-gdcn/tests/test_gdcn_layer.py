"""Known answers for GDCN's gated cross layer and the two structures' widths."""

from __future__ import annotations

import torch

from gdcn.component import GDCN, GatedCrossNetwork
from recforge.core.components import build_params


def test_one_gated_cross_layer_by_hand() -> None:
    """W = I, b = 1, W^g = 0 (gate 1/2): c_1 = c_0 * (c_0 + 1) / 2 + c_0."""
    net = GatedCrossNetwork(width=3, num_layers=1)
    with torch.no_grad():
        net.weights[0].weight.copy_(torch.eye(3))
        net.biases[0].fill_(1.0)
        net.gates[0].weight.zero_()
    x0 = torch.tensor([[1.0, -2.0, 0.5]])
    expected = torch.tensor([[1.0 * 2.0 / 2 + 1.0, -2.0 * -1.0 / 2 - 2.0, 0.5 * 1.5 / 2 + 0.5]])
    torch.testing.assert_close(net(x0), expected)


def test_a_closed_gate_leaves_the_input_unchanged() -> None:
    net = GatedCrossNetwork(width=4, num_layers=2)
    with torch.no_grad():
        for gate in net.gates:
            gate.weight.zero_()
    x0 = torch.zeros(2, 4)  # sigmoid(0) = 1/2 but c_0 = 0 zeroes the cross term
    torch.testing.assert_close(net(x0), x0)


def test_output_width_of_each_structure() -> None:
    parallel = GDCN(3, 4, build_params(GDCN, {"hidden_units": [8, 5]}))
    stacked = GDCN(3, 4, build_params(GDCN, {"hidden_units": [8, 5], "structure": "stacked"}))
    assert parallel.output_dim == 12 + 5 and stacked.output_dim == 5
    x = torch.randn(2, 3, 4)
    assert parallel(x).shape == (2, 17) and stacked(x).shape == (2, 5)
