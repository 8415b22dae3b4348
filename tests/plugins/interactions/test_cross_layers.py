"""DCN and DCNv2 cross layers against their formulas on hand-built inputs."""

from __future__ import annotations

import torch

from recforge.core.components import build_params
from recforge.plugins.interactions.crossnet import CrossNet, CrossNetV2


def test_crossnet_one_layer_hand_computed() -> None:
    layer = CrossNet(2, 1, build_params(CrossNet, {"num_layers": 1}))
    with torch.no_grad():
        layer.weights[0].copy_(torch.tensor([1.0, 2.0]))
        layer.biases[0].copy_(torch.tensor([0.5, -0.5]))
    x = torch.tensor([[[1.0], [3.0]]])  # x0 = (1, 3); x0 . w = 7
    # x1 = x0 * 7 + b + x0 = (7 + 0.5 + 1, 21 - 0.5 + 3)
    torch.testing.assert_close(layer(x), torch.tensor([[8.5, 23.5]]))


def test_crossnet_layers_follow_the_recursion() -> None:
    torch.manual_seed(0)
    layer = CrossNet(3, 2, build_params(CrossNet, {"num_layers": 3})).double()
    x = torch.randn(4, 3, 2, dtype=torch.float64)
    x0 = x.flatten(1)
    xl = x0
    for w, b in zip(layer.weights, layer.biases):
        xl = torch.stack([x0[n] * torch.dot(xl[n], w) + b + xl[n] for n in range(4)])
    torch.testing.assert_close(layer(x), xl)


def test_crossnet_v2_full_rank_hand_computed() -> None:
    layer = CrossNetV2(2, 1, build_params(CrossNetV2, {"num_layers": 1}))
    with torch.no_grad():
        layer.layers[0].weight.copy_(torch.tensor([[1.0, 0.0], [2.0, 1.0]]))
        layer.layers[0].bias.copy_(torch.tensor([1.0, 0.0]))
    x = torch.tensor([[[2.0], [1.0]]])  # W x + b = (3, 5); x0 * that = (6, 5); + x0 = (8, 6)
    torch.testing.assert_close(layer(x), torch.tensor([[8.0, 6.0]]))


def test_crossnet_v2_low_rank_mixture_matches_explicit_experts() -> None:
    torch.manual_seed(1)
    p = build_params(CrossNetV2, {"num_layers": 2, "low_rank": 3, "num_experts": 2})
    layer = CrossNetV2(3, 2, p).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    x0 = x.flatten(1)
    xl = x0
    for layer_index in range(2):
        outs = []
        for n in range(5):
            experts = []
            for e in range(2):
                h = torch.tanh(layer.v[layer_index, e].T @ xl[n])
                h = torch.tanh(layer.c[layer_index, e].T @ h)
                experts.append(x0[n] * (layer.u[layer_index, e].T @ h + layer.bias[layer_index]))
            g = torch.softmax(layer.gates[layer_index].weight @ xl[n], 0)
            outs.append(sum(g[e] * experts[e] for e in range(2)) + xl[n])
        xl = torch.stack(outs)
    torch.testing.assert_close(layer(x), xl)
