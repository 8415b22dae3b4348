"""AutoInt, attention fusion, gating: weights are distributions or gates; outputs match formulas."""

from __future__ import annotations

import torch

from recforge.core.components import build_params
from recforge.plugins.interactions.attention_fusion import AttentionFusion
from recforge.plugins.interactions.autoint import AutoInt
from recforge.plugins.interactions.gating import Gating


def test_autoint_attention_rows_are_distributions() -> None:
    torch.manual_seed(0)
    layer = AutoInt(
        5, 4, build_params(AutoInt, {"num_layers": 2, "num_heads": 3, "attention_dim": 2})
    )
    out = layer(torch.randn(6, 5, 4))
    assert out.shape == (6, 5 * 3 * 2) == (6, layer.output_dim)
    maps = layer.attention_maps()
    assert len(maps) == 2 and layer.last_attention is maps[-1]
    for attention in maps:
        assert attention is not None and attention.shape == (6, 3, 5, 5)
        assert (attention >= 0).all()
        torch.testing.assert_close(attention.sum(-1), torch.ones(6, 3, 5))


def test_autoint_single_head_layer_matches_formula() -> None:
    torch.manual_seed(1)
    p = build_params(
        AutoInt, {"num_layers": 1, "num_heads": 1, "attention_dim": 3, "use_scale": True}
    )
    layer = AutoInt(4, 3, p).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    att = layer.layers[0]
    q, k, v = x @ att.query.weight.T, x @ att.key.weight.T, x @ att.value.weight.T
    a = torch.softmax(q @ k.transpose(1, 2) / 3**0.5, dim=-1)
    expected = torch.relu(a @ v + x @ att.residual.weight.T).flatten(1)
    torch.testing.assert_close(layer(x), expected)


def test_attention_fusion_weights_and_sum_pooling() -> None:
    torch.manual_seed(2)
    p = build_params(AttentionFusion, {"pooling": "sum", "hidden_units": []})
    layer = AttentionFusion(4, 3, p).double()
    x = torch.randn(5, 4, 3, dtype=torch.float64)
    out = layer(x)
    w = layer.last_weights
    assert w is not None and w.shape == (5, 4) and (w > 0).all()
    torch.testing.assert_close(w.sum(1), torch.ones(5, dtype=torch.float64))
    assert layer.output_dim == 3
    torch.testing.assert_close(out, torch.einsum("bf,bfd->bd", w, x))


def test_attention_fusion_moves_weight_to_the_informative_field() -> None:
    """Label depends on field 2 only; after training, field 2 gets most of the attention."""
    torch.manual_seed(3)
    p = build_params(AttentionFusion, {"pooling": "sum", "hidden_units": [8], "attention_dim": 8})
    layer = AttentionFusion(3, 4, p)
    head = torch.nn.Linear(8, 1)
    opt = torch.optim.Adam([*layer.parameters(), *head.parameters()], lr=0.03)
    signal = torch.randn(256, 4)
    x = torch.randn(256, 3, 4)
    x[:, 2] = signal + 3.0  # informative field, distinguishable by its offset
    y = (signal[:, 0] > 0).float()
    for _ in range(150):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(layer(x)).squeeze(1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    layer(x)
    assert layer.last_weights is not None
    assert layer.last_weights.mean(0).argmax().item() == 2
    assert layer.last_weights[:, 2].mean() > 0.6


def test_gating_gates_are_per_field_probabilities_applied_to_fields() -> None:
    torch.manual_seed(4)
    layer = Gating(3, 2, build_params(Gating, {"hidden_units": []})).double()
    x = torch.randn(4, 3, 2, dtype=torch.float64)
    out = layer(x)
    g = layer.last_weights
    assert g is not None and g.shape == (4, 3)
    assert ((g > 0) & (g < 1)).all()
    torch.testing.assert_close(out, (g.unsqueeze(-1) * x).flatten(1))
    assert g.mean() > 0.8  # gates start open (gate_bias = 2.0 -> about 0.88)
