"""Model assembly: encoders per field, slot order, depends_on, pair scoring, dispatch, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from trainer_fixtures import ensure_components, make_prepared, model_config  # noqa: E402

from recforge.core.errors import ConfigError, UnknownNameError  # noqa: E402
from recforge.core.model import RecModel, _topological, build_model, component_spec  # noqa: E402


@pytest.fixture(scope="module")
def prepared():
    ensure_components()
    return make_prepared()


def test_build_composed_model_shapes_and_slots(prepared):
    model = build_model(model_config("fm"), prepared)
    assert isinstance(model, RecModel)
    assert model.task == "pointwise"
    assert model.field_names == ["user_id", "item_id", "gender", "genres"]
    batch = prepared.splits["train"].batch(torch.arange(5))
    vectors = model.field_vectors(batch)
    assert vectors.shape == (5, 4, 8)
    probs = model.predict(batch)
    assert probs.shape == (5,) and bool(((probs > 0) & (probs < 1)).all())
    assert model.training_loss(batch).dim() == 0


def test_fm_logit_equals_pairwise_sum_over_field_vectors(prepared):
    """With the fm interaction, the head sees exactly sum_{i<j} <v_i, v_j> (hand reference)."""
    model = build_model(model_config("fm"), prepared)
    batch = prepared.splits["train"].batch(torch.arange(7))
    v = model.field_vectors(batch)
    brute = sum((v[:, i] * v[:, j]).sum(-1) for i in range(4) for j in range(i + 1, 4))
    rep = model.interaction(v)
    assert torch.allclose(rep.sum(-1), brute, atol=1e-6)


def test_score_items_equals_predict_on_real_rows(prepared):
    """Users' and items' features are constant, so the pair matrix must match row predictions."""
    model = build_model(model_config("deepfm"), prepared)
    model.eval()
    table = prepared.splits["train"]
    batch = table.batch(torch.arange(40))
    expected = model.predict(batch)
    scores = model.score_items(batch["user_id"].unique())
    users = batch["user_id"].unique().tolist()
    got = torch.stack([scores[users.index(u), i] for u, i in zip(batch["user_id"].tolist(), batch["item_id"].tolist())])
    assert torch.allclose(got, expected, atol=1e-6)
    assert scores.shape[1] == prepared.fields["item_id"].vocab_size


def test_item_vectors_are_item_field_vectors(prepared):
    model = build_model(model_config("fm"), prepared)
    vecs = model.item_vectors()
    assert vecs.shape == (prepared.fields["item_id"].vocab_size, 16)  # item_id + genres slots, D=8
    batch = prepared.splits["train"].batch(torch.tensor([3]))
    v = model.field_vectors(batch)[0]
    item = int(batch["item_id"][0])
    assert torch.allclose(vecs[item], torch.cat([v[1], v[3]]), atol=1e-6)


def test_encoder_overrides_and_field_selection(prepared):
    cfg = model_config("fm")
    cfg["model"]["fields"] = ["user_id", "item_id"]
    model = build_model(cfg, prepared)
    assert model.field_names == ["user_id", "item_id"]
    cfg["model"]["encoders"] = {"genres": "categorical"}
    with pytest.raises(UnknownNameError, match="genres"):
        build_model(cfg, prepared)
    cfg = model_config("fm")
    cfg["model"]["encoders"] = {"genres": {"name": "categorical"}}
    with pytest.raises(ConfigError, match="cannot encode field 'genres'"):
        build_model(cfg, prepared)
    cfg["model"]["encoders"] = {"genres": {"name": "no-such-encoder"}}
    with pytest.raises(UnknownNameError, match="no-such-encoder"):
        build_model(cfg, prepared)


@pytest.mark.parametrize("std", [1e-4, 0.05])
def test_embedding_init_std_sets_the_tables_spread(prepared, std):
    cfg = model_config("fm")
    cfg["model"]["embedding_init_std"] = std
    torch.manual_seed(0)
    model = build_model(cfg, prepared)
    tables = [m.weight for m in model.modules() if isinstance(m, torch.nn.Embedding)]
    rows = torch.cat([t.detach()[1:].flatten() for t in tables])  # row 0 is the zero padding row
    assert rows.numel() > 100
    assert abs(rows.std().item() / std - 1.0) < 0.2
    assert all(bool((t.detach()[0] == 0).all()) for t in tables)


@pytest.mark.parametrize("bad", [0, -0.1, "wide"])
def test_embedding_init_std_must_be_positive(prepared, bad):
    cfg = model_config("fm")
    cfg["model"]["embedding_init_std"] = bad
    with pytest.raises(ConfigError, match="embedding_init_std"):
        build_model(cfg, prepared)


def test_missing_interaction_and_bad_specs(prepared):
    cfg = model_config("fm")
    del cfg["model"]["interaction"]
    with pytest.raises(ConfigError, match="interaction"):
        build_model(cfg, prepared)
    with pytest.raises(ConfigError, match="model.ranker"):
        component_spec(3, "model.ranker")
    assert component_spec({"name": "ctr", "params": {"a": 1}}, "x") == ("ctr", {"a": 1})


def test_topological_order_and_cycles():
    deps = {"a": ("b",), "b": (), "c": ("a",)}
    assert _topological(["a", "b", "c"], deps) == ["b", "a", "c"]
    with pytest.raises(ConfigError, match="cycle"):
        _topological(["a", "b"], {"a": ("b",), "b": ("a",)})
    with pytest.raises(ConfigError, match="not encoded"):
        _topological(["a"], {"a": ("zzz",)})


def test_standalone_ranker_dispatches_to_from_prepared(prepared):
    from recforge.core.components import Ranker
    from recforge.core.hookspecs import hookimpl
    from recforge.core.registry import get_registry

    class Fake(Ranker):
        """Fake standalone ranker.

        Args:
            none.

        Example:
            ranker: fake-standalone
        """

        name = "fake-standalone"
        standalone = True

        @classmethod
        def from_prepared(cls, prepared, model_cfg, params):
            return ("built", prepared.item_field, model_cfg["embedding_dim"])

    import types

    module = types.ModuleType("fake_standalone_plugin")
    module.register_rankers = hookimpl(lambda register: register(Fake))
    reg = get_registry()
    reg.register_module(module, name="fake_standalone_plugin")
    try:
        cfg = {"model": {"ranker": "fake-standalone", "embedding_dim": 5}}
        assert build_model(cfg, prepared) == ("built", "item_id", 5)
    finally:
        reg.unregister("fake_standalone_plugin")
