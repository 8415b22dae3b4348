"""MF (with side features), two-tower and the ctr / rating heads: known answers and gradients."""

from __future__ import annotations

import math

import pytest
import torch

from recforge.core.components import build_params
from recforge.core.errors import ConfigError, DataError
from recforge.core.registry import get_registry
from recforge.plugins.rankers.ctr import CTRRanker
from recforge.plugins.rankers.mf import MatrixFactorization
from recforge.plugins.rankers.rating import RatingRanker
from recforge.plugins.rankers.two_tower import TwoTower


def test_mf_rating_prediction_hand_computed(prepared, missing_grads) -> None:  # type: ignore[no-untyped-def]
    model = MatrixFactorization.from_prepared(prepared, {"embedding_dim": 2}, build_params(MatrixFactorization, {}))
    assert model.task == "rating"
    assert model.global_bias.item() == pytest.approx(0.8)  # mean train label: 8 of 10 rows are 1
    with torch.no_grad():
        model.user_embedding.weight[2] = torch.tensor([1.0, 2.0])
        model.item_embedding.weight[5] = torch.tensor([3.0, -1.0])
        model.user_bias.weight[2] = 0.5
        model.item_bias.weight[5] = -0.25
    batch = {"user_id": torch.tensor([2]), "item_id": torch.tensor([5]), "label": torch.tensor([4.0])}
    pred = 0.8 + 0.5 - 0.25 + (3.0 - 2.0)
    assert model.predict(batch).item() == pytest.approx(pred)
    assert model.training_loss(batch).item() == pytest.approx((4.0 - pred) ** 2)
    assert model.score_items(torch.tensor([2]))[0, 5].item() == pytest.approx(pred)
    assert missing_grads(model, model.training_loss(batch)) == []


def test_mf_ctr_outputs_probabilities(prepared) -> None:  # type: ignore[no-untyped-def]
    model = MatrixFactorization.from_prepared(prepared, {"embedding_dim": 2}, build_params(MatrixFactorization, {"objective": "ctr"}))
    assert model.task == "pointwise" and model.global_bias.item() == 0.0
    batch = {"user_id": torch.tensor([2, 3]), "item_id": torch.tensor([5, 2]), "label": torch.tensor([1.0, 0.0])}
    raw = model.score_pairs(batch["user_id"], batch["item_id"])
    assert torch.allclose(model.predict(batch), torch.sigmoid(raw))
    want = -(math.log(torch.sigmoid(raw[0]).item()) + math.log(1 - torch.sigmoid(raw[1]).item())) / 2
    assert model.training_loss(batch).item() == pytest.approx(want, rel=1e-5)
    with pytest.raises(DataError, match="no label column 'label'"):
        model.training_loss({"user_id": torch.tensor([2]), "item_id": torch.tensor([5])})


def test_mf_side_features_add_to_id_vectors(prepared, with_encoders, missing_grads) -> None:  # type: ignore[no-untyped-def]
    params = build_params(MatrixFactorization, {"side_fields": ["genre", "age"], "use_bias": False})
    model = MatrixFactorization.from_prepared(prepared, {"embedding_dim": 2}, params)
    genre_table = model.side.encoders["genre"].table
    age_table = model.side.encoders["age"].table
    with torch.no_grad():
        model.user_embedding.weight[3] = torch.tensor([1.0, 0.0])
        model.item_embedding.weight[6] = torch.tensor([0.0, 1.0])
        age_table.weight[3] = torch.tensor([0.5, 0.5])  # user 3 has age index 3
        genre_table.weight[2] = torch.tensor([2.0, 1.0])  # item 6 has genre index 2
    # (p_u + age) . (q_i + genre) = (1.5, 0.5) . (2, 2)
    assert model.score_items(torch.tensor([3]))[0, 6].item() == pytest.approx(4.0)
    assert model.predict({"user_id": torch.tensor([3]), "item_id": torch.tensor([6])}).item() == pytest.approx(4.0)
    batch = {"user_id": torch.tensor([2, 3]), "item_id": torch.tensor([5, 6]), "label": torch.tensor([1.0, 0.0])}
    assert missing_grads(model, model.training_loss(batch)) == []
    with pytest.raises(ConfigError, match="role 'label'"):
        MatrixFactorization.from_prepared(prepared, {}, build_params(MatrixFactorization, {"side_fields": ["label"]}))


def test_two_tower_top_k_equals_brute_force_and_gradients(prepared, with_encoders, missing_grads) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    cfg = {"embedding_dim": 4, "towers": {"user": {"fields": ["user_id", "age"]}, "item": {"fields": ["item_id", "genre"]}}}
    model = TwoTower.from_prepared(prepared, cfg, build_params(TwoTower, {"normalize": False}))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    model.eval()
    with torch.no_grad():
        users = torch.tensor([2, 3, 4, 5])
        full = model.score_items(users)
        brute = torch.tensor([[model.score_pairs(torch.tensor([u]), torch.tensor([i])).item() for i in range(8)] for u in users.tolist()])
        assert torch.allclose(full, brute, atol=1e-5)
        assert torch.equal(full[:, 2:].topk(3).indices, brute[:, 2:].topk(3).indices)
    model.train()
    batch = {"user_id": torch.tensor([2, 3, 4]), "item_id": torch.tensor([2, 3, 5]), "neg_item_id": torch.tensor([6, 7, 4])}
    assert missing_grads(model, model.training_loss(batch)) == []
    bpr = TwoTower.from_prepared(prepared, cfg, build_params(TwoTower, {"loss": "bpr"}))
    assert missing_grads(bpr, bpr.training_loss(batch)) == []


def test_two_tower_with_an_interaction_and_bad_tower_fields(prepared, with_encoders) -> None:  # type: ignore[no-untyped-def]
    if not get_registry().has("mlp", "interaction"):
        pytest.skip("the mlp interaction is not registered yet")
    cfg = {"embedding_dim": 4, "towers": {"item": {"fields": ["item_id", "genre"], "interaction": {"name": "mlp", "params": {"hidden_units": [8]}}}}}
    model = TwoTower.from_prepared(prepared, cfg, build_params(TwoTower, {}))
    assert model.towers["item"].interaction is not None
    assert model.score_items(torch.tensor([2])).shape == (1, 8)
    with pytest.raises(ConfigError, match="non-user fields"):
        TwoTower.from_prepared(prepared, {"towers": {"user": {"fields": ["genre"]}}}, build_params(TwoTower, {}))


def test_ctr_head_loss_and_output() -> None:
    head = CTRRanker(3, build_params(CTRRanker, {}))
    raw = torch.tensor([0.0, 2.0])
    batch = {"label": torch.tensor([1.0, 0.0])}
    want = -(math.log(0.5) + math.log(1 - 1 / (1 + math.exp(-2.0)))) / 2
    assert head.loss(raw, batch).item() == pytest.approx(want, rel=1e-6)
    assert torch.allclose(head.output(raw), torch.sigmoid(raw))
    assert head(torch.ones(5, 3)).shape == (5,)
    head.label_field = "click"
    with pytest.raises(DataError, match="no label column 'click'"):
        head.loss(raw, batch)


def test_rating_head_mse_and_clipped_output() -> None:
    head = RatingRanker(2, build_params(RatingRanker, {"min_rating": 1, "max_rating": 5}))
    raw = torch.tensor([0.0, 3.0, 7.0])
    assert head.loss(raw, {"label": torch.tensor([1.0, 3.0, 5.0])}).item() == pytest.approx((1 + 0 + 4) / 3)
    assert head.output(raw).tolist() == [1.0, 3.0, 5.0]
    with pytest.raises(ConfigError, match="min_rating 5.0 is not below max_rating 1.0"):
        RatingRanker(2, build_params(RatingRanker, {"min_rating": 5, "max_rating": 1}))


def test_every_builtin_ranker_and_model_is_documented() -> None:
    rankers = get_registry().list("ranker") + get_registry().list("model")
    assert {r.name for r in get_registry().list("ranker")} >= {"ctr", "rating"}
    models = {r.name for r in get_registry().list("model")}
    assert {"bpr", "softmax", "two-tower", "mf", "lightgcn", "itemknn", "content", "ensemble"} <= models
    for info in rankers:
        if info.plugin != "recforge.plugins.rankers":
            continue
        assert "Args:" in info.doc and "Example:" in info.doc, info.name
        assert all(p.help for p in info.params), info.name


@pytest.mark.parametrize("name", ["bpr", "softmax", "lightgcn", "itemknn", "mf", "two-tower", "content"])
def test_rebuilt_without_training_rows_scores_the_same_after_loading(prepared, with_encoders, name: str) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    cls = get_registry().get(name, "model").cls
    cfg = {"embedding_dim": 4, "towers": {"user": {"fields": ["user_id", "age"]}, "item": {"fields": ["item_id", "genre"]}}}
    params = build_params(cls, {"side_fields": ["genre"]} if name == "mf" else {})
    extra = {"encode": lambda texts: torch.tensor([[len(t), t.count("a") + 1.0] for t in texts])} if name == "content" else {}
    trained = cls.from_prepared(prepared, cfg, params, **extra)
    restored = SimpleNamespace(**{**vars(prepared), "splits": {}, "restored": True})
    rebuilt = cls.from_prepared(restored, cfg, params, **extra)
    rebuilt.load_state_dict(trained.state_dict())
    trained.eval(), rebuilt.eval()
    with torch.no_grad():
        users = torch.tensor([2, 3, 4, 5])
        assert torch.allclose(rebuilt.score_items(users), trained.score_items(users), atol=1e-6)
