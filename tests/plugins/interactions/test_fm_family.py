"""FM, FwFM, NFM and AFM against brute-force sums over field pairs."""

from __future__ import annotations

import itertools

import torch

from recforge.core.components import build_params
from recforge.plugins.interactions.afm import AFM
from recforge.plugins.interactions.fm import FM, FwFM, bi_interaction
from recforge.plugins.interactions.nfm import NFM


def brute_pairs(x: torch.Tensor, weight=lambda i, j: 1.0) -> torch.Tensor:
    """sum_{i<j} w_ij <x_i, x_j> by explicit loops, [B]."""
    total = torch.zeros(x.shape[0], dtype=x.dtype)
    for i, j in itertools.combinations(range(x.shape[1]), 2):
        total += weight(i, j) * (x[:, i] * x[:, j]).sum(-1)
    return total


def test_fm_linear_time_form_equals_pair_sum() -> None:
    torch.manual_seed(0)
    x = torch.randn(7, 5, 3, dtype=torch.float64)
    fm = FM(5, 3, FM.Params())
    torch.testing.assert_close(fm(x).squeeze(1), brute_pairs(x))


def test_fm_gradient_is_the_brute_force_pair_sums_gradient() -> None:
    """The hand-written backward (d/dx_f = sum_g x_g - x_f, times the upstream gradient)."""
    torch.manual_seed(1)
    x = torch.randn(6, 4, 3, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(6, dtype=torch.float64)
    (got,) = torch.autograd.grad((FM(4, 3, FM.Params())(x).squeeze(1) * upstream).sum(), [x])
    (want,) = torch.autograd.grad((brute_pairs(x) * upstream).sum(), [x])
    torch.testing.assert_close(got, want)
    assert torch.autograd.gradcheck(lambda t: FM(4, 3, FM.Params())(t), (x,))


def test_fm_hand_computed_value() -> None:
    # fields (1, 2), (3, 4), (0, 1): pairs 1*3+2*4=11, 1*0+2*1=2, 3*0+4*1=4 -> 17
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]]])
    assert FM(3, 2, FM.Params())(x).item() == 17.0
    per_dim = FM(3, 2, build_params(FM, {"reduce_sum": False}))(x)
    torch.testing.assert_close(per_dim, torch.tensor([[3.0, 14.0]]))  # 3+0+0, 8+2+4
    # pair strengths over a batch of this example and its negation (same inner products)
    strengths = FM(3, 2, FM.Params()).pair_weights(torch.cat([x, -x]))
    assert strengths.tolist() == [[0, 11, 2], [11, 0, 4], [2, 4, 0]]


def test_bi_interaction_equals_elementwise_pair_sum() -> None:
    torch.manual_seed(1)
    x = torch.randn(4, 6, 5, dtype=torch.float64)
    expected = sum(x[:, i] * x[:, j] for i, j in itertools.combinations(range(6), 2))
    torch.testing.assert_close(bi_interaction(x), expected)


def test_fwfm_weights_each_pair_and_exposes_the_matrix() -> None:
    torch.manual_seed(2)
    layer = FwFM(4, 3, FwFM.Params()).double()
    with torch.no_grad():
        layer.r.copy_(torch.arange(1.0, 7.0))  # pairs (0,1)..(2,3) -> 1..6
    x = torch.randn(5, 4, 3, dtype=torch.float64)
    weights = layer.pair_weights()
    assert weights.shape == (4, 4)
    torch.testing.assert_close(weights, weights.T)
    assert weights[0, 1] == 1 and weights[0, 3] == 3 and weights[2, 3] == 6 and weights[1, 1] == 0
    torch.testing.assert_close(
        layer(x).squeeze(1), brute_pairs(x, lambda i, j: weights[i, j].item())
    )


def test_fwfm_with_unit_weights_is_fm() -> None:
    layer = FwFM(5, 4, build_params(FwFM, {"init_std": 0.0}))
    x = torch.randn(3, 5, 4)
    torch.testing.assert_close(layer(x), FM(5, 4, FM.Params())(x))


def test_nfm_feeds_the_bi_interaction_vector_to_its_mlp() -> None:
    layer = NFM(3, 4, build_params(NFM, {"hidden_units": [5]}))
    x = torch.randn(2, 3, 4)
    linear = layer.mlp.net[0]
    expected = torch.relu(linear(bi_interaction(x)))
    torch.testing.assert_close(layer(x), expected)


def test_afm_attention_is_a_distribution_over_pairs_and_matches_loops() -> None:
    torch.manual_seed(3)
    layer = AFM(4, 3, AFM.Params()).double()
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    out = layer(x)
    weights = layer.last_attention
    assert weights is not None and weights.shape == (6, 6)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(6, dtype=torch.float64))
    pairs = list(itertools.combinations(range(4), 2))
    for b in range(6):
        scores = torch.stack([layer.attention(x[b, i] * x[b, j]).squeeze() for i, j in pairs])
        a = torch.softmax(scores, 0)
        pooled = sum(a[k] * x[b, i] * x[b, j] for k, (i, j) in enumerate(pairs))
        torch.testing.assert_close(out[b], layer.projection(pooled))
