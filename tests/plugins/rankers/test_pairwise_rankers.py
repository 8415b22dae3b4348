"""BPR, sampled softmax and LightGCN: hand-computed losses, brute-force propagation, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recforge.core.components import build_params
from recforge.core.model import build_model
from recforge.plugins.rankers._losses import bpr_loss, sampled_softmax_loss
from recforge.plugins.rankers.bpr import BPR
from recforge.plugins.rankers.lightgcn import LightGCN
from recforge.plugins.rankers.softmax import SampledSoftmax


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_bpr_loss_hand_computed() -> None:
    pos, neg = torch.tensor([2.0, 0.5]), torch.tensor([[1.0, 3.0], [0.5, -1.0]])
    want = -(math.log(sig(1.0)) + math.log(sig(-1.0)) + math.log(sig(0.0)) + math.log(sig(1.5))) / 4
    assert bpr_loss(pos, neg).item() == pytest.approx(want)
    assert bpr_loss(pos, neg[:, 0]).item() == pytest.approx(-(math.log(sig(1.0)) + math.log(sig(0.0))) / 2)


def test_bpr_model_loss_scores_and_gradients(prepared, missing_grads) -> None:  # type: ignore[no-untyped-def]
    model = BPR.from_prepared(prepared, {"embedding_dim": 2}, build_params(BPR, {}))
    with torch.no_grad():
        model.user_embedding.weight[2] = torch.tensor([1.0, 2.0])
        model.item_embedding.weight[3] = torch.tensor([0.5, 0.5])
        model.item_embedding.weight[4] = torch.tensor([-1.0, 1.0])
    batch = {"user_id": torch.tensor([2]), "item_id": torch.tensor([3]), "neg_item_id": torch.tensor([4])}
    # s_pos = 1.5, s_neg = 1.0
    assert model.training_loss(batch).item() == pytest.approx(-math.log(sig(0.5)))
    assert model.predict(batch).item() == pytest.approx(1.5)
    full = model.score_items(torch.tensor([2, 3]))
    assert torch.allclose(full, model.user_embedding.weight[[2, 3]] @ model.item_embedding.weight.T)
    assert missing_grads(model, model.training_loss(batch)) == []


def test_bpr_l2_penalty_adds_reg_over_batch(prepared) -> None:  # type: ignore[no-untyped-def]
    plain = BPR.from_prepared(prepared, {"embedding_dim": 3}, build_params(BPR, {}))
    reg = BPR.from_prepared(prepared, {"embedding_dim": 3}, build_params(BPR, {"reg_weight": 0.1}))
    reg.load_state_dict(plain.state_dict())
    batch = {"user_id": torch.tensor([2, 3]), "item_id": torch.tensor([3, 5]), "neg_item_id": torch.tensor([4, 6])}
    norms = sum(t.pow(2).sum() for t in (plain.user_embedding.weight[[2, 3]], plain.item_embedding.weight[[3, 5]],
                                         plain.item_embedding.weight[[4, 6]]))
    assert (reg.training_loss(batch) - plain.training_loss(batch)).item() == pytest.approx(0.1 * norms.item() / 2, rel=1e-5)


def test_build_model_dispatches_to_standalone_rankers(prepared) -> None:  # type: ignore[no-untyped-def]
    model = build_model({"data": {}, "model": {"embedding_dim": 8, "ranker": {"name": "bpr"}}}, prepared)
    assert isinstance(model, BPR) and model.user_embedding.weight.shape == (6, 8) and model.task == "pairwise"


def test_sampled_softmax_logq_hand_computed() -> None:
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[2.0, 1.0], [1.0, 3.0]])
    items = torch.tensor([2, 3])
    log_q = torch.log(torch.tensor([0.1, 0.1, 0.2, 0.6]))
    logits = np.array([[2.0, 1.0], [1.0, 3.0]]) - np.log([0.2, 0.6])  # logQ subtracts log q(column item)
    want = np.mean([-(logits[r, r] - np.log(np.exp(logits[r]).sum())) for r in range(2)])
    assert sampled_softmax_loss(u, v, items, log_q).item() == pytest.approx(want, rel=1e-6)
    plain = np.array([[2.0, 1.0], [1.0, 3.0]])
    want_plain = np.mean([-(plain[r, r] - np.log(np.exp(plain[r]).sum())) for r in range(2)])
    assert sampled_softmax_loss(u, v, items, None).item() == pytest.approx(want_plain, rel=1e-6)


def test_sampled_softmax_masks_duplicate_positives_and_adds_sampled_negatives() -> None:
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[2.0, 1.0], [2.0, 1.0]])
    same = torch.tensor([3, 3])  # both rows clicked item 3: neither is the other's negative
    assert sampled_softmax_loss(u, v, same).item() == pytest.approx(0.0, abs=1e-6)
    neg_v = torch.tensor([[[0.0, 0.0]], [[0.0, 0.0]]])
    got = sampled_softmax_loss(u, v, same, neg_vecs=neg_v, neg_ids=torch.tensor([[4], [5]]))
    want = np.mean([math.log(1 + math.exp(-2.0)), math.log(1 + math.exp(-1.0))])
    assert got.item() == pytest.approx(want, rel=1e-6)


def test_softmax_ranker_log_q_from_train_counts_and_gradients(prepared, missing_grads) -> None:  # type: ignore[no-untyped-def]
    model = SampledSoftmax.from_prepared(prepared, {"embedding_dim": 4}, build_params(SampledSoftmax, {}))
    # train item counts: 2:2, 3:2, 4:2, 5:2, 6:1, 7:1 (items 0, 1 floored at one count)
    counts = np.array([1, 1, 2, 2, 2, 2, 1, 1], dtype=float)
    assert np.allclose(model.log_q.numpy(), np.log(counts / counts.sum()), atol=1e-6)
    batch = {"user_id": torch.tensor([2, 3, 4]), "item_id": torch.tensor([2, 3, 5]), "neg_item_id": torch.tensor([6, 7, 4])}
    assert missing_grads(model, model.training_loss(batch)) == []


def test_lightgcn_propagation_matches_dense_reference(prepared, missing_grads) -> None:  # type: ignore[no-untyped-def]
    model = LightGCN.from_prepared(prepared, {"embedding_dim": 3}, build_params(LightGCN, {"n_layers": 2}))
    n_u, n_i = 6, 8
    a = np.zeros((n_u + n_i, n_u + n_i))
    for u, i, _ in [(2, 2, 1), (2, 3, 0), (2, 4, 1), (3, 3, 1), (3, 5, 1), (4, 2, 1), (4, 6, 0), (5, 7, 1), (5, 4, 1), (4, 5, 1)]:
        a[u, n_u + i] = a[n_u + i, u] = 1.0
    deg = a.sum(1)
    d = np.power(deg, -0.5, out=np.zeros_like(deg), where=deg > 0)
    norm = d[:, None] * a * d[None, :]
    e0 = torch.cat([model.user_embedding.weight, model.item_embedding.weight]).detach().double().numpy()
    final = (e0 + norm @ e0 + norm @ norm @ e0) / 3
    users, items = model.all_vectors()
    assert np.allclose(users.detach().numpy(), final[:n_u], atol=1e-6)
    assert np.allclose(items.detach().numpy(), final[n_u:], atol=1e-6)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model.score_items(torch.tensor([2])), torch.from_numpy(final[2] @ final[n_u:].T).float(), atol=1e-5)
    model.train()
    batch = {"user_id": torch.tensor([2, 3]), "item_id": torch.tensor([2, 3]), "neg_item_id": torch.tensor([7, 6])}
    assert missing_grads(model, model.training_loss(batch)) == []


def test_lightgcn_state_dict_restores_graph_without_training_data(prepared) -> None:  # type: ignore[no-untyped-def]
    trained = LightGCN.from_prepared(prepared, {"embedding_dim": 3}, build_params(LightGCN, {}))
    empty = LightGCN(6, 8, build_params(LightGCN, {}), dim=3)  # what a loader builds
    empty.load_state_dict(trained.state_dict())
    trained.eval(), empty.eval()
    with torch.no_grad():
        assert torch.allclose(empty.score_items(torch.tensor([2, 5])), trained.score_items(torch.tensor([2, 5])))


def test_lightgcn_gradient_matches_dense_autograd(prepared) -> None:  # type: ignore[no-untyped-def]
    model = LightGCN.from_prepared(prepared, {"embedding_dim": 3}, build_params(LightGCN, {"reg_weight": 0.0}))
    batch = {"user_id": torch.tensor([2, 4]), "item_id": torch.tensor([3, 5]), "neg_item_id": torch.tensor([6, 2])}
    model.zero_grad()
    model.training_loss(batch).backward()
    dense = model.adjacency().to_dense()
    e0 = torch.cat([model.user_embedding.weight, model.item_embedding.weight]).detach().requires_grad_(True)
    final = (e0 + dense @ e0 + dense @ dense @ e0) / 3
    u, i = final[:6], final[6:]
    loss = bpr_loss((u[[2, 4]] * i[[3, 5]]).sum(-1), (u[[2, 4]] * i[[6, 2]]).sum(-1))
    loss.backward()
    assert torch.allclose(model.user_embedding.weight.grad, e0.grad[:6], atol=1e-6)
    assert torch.allclose(model.item_embedding.weight.grad, e0.grad[6:], atol=1e-6)


def test_fallback_negatives_are_fresh_known_items_never_seen_in_training(prepared) -> None:  # type: ignore[no-untyped-def]
    model = BPR.from_prepared(prepared, {"embedding_dim": 2}, build_params(BPR, {}))
    users = torch.tensor([2, 3, 4, 5] * 200)
    torch.manual_seed(0)
    neg = model.negatives_of({"user_id": users, "item_id": torch.full_like(users, 2)})
    assert neg.shape == (800, 1) and (neg >= 2).all() and (neg < 8).all()
    seen = {(u, i) for u, i, _ in [(2, 2, 1), (2, 3, 0), (2, 4, 1), (3, 3, 1), (3, 5, 1), (4, 2, 1), (4, 6, 0), (5, 7, 1), (5, 4, 1), (4, 5, 1)]}
    assert not any((u, i) in seen for u, i in zip(users.tolist(), neg[:, 0].tolist(), strict=True))
    given = model.negatives_of({"user_id": users[:2], "neg_item_id": torch.tensor([6, 7])})
    assert given.tolist() == [[6], [7]]
