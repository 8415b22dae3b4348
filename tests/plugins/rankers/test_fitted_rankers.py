"""ItemKNN and content-based rankers against brute-force cosine references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recforge.core.components import build_params
from recforge.core.errors import ConfigError
from recforge.core.model_api import is_trainable
from recforge.plugins.rankers.content import ContentBased
from recforge.plugins.rankers.itemknn import ItemKNN

TRAIN_PAIRS = [(2, 2), (2, 3), (2, 4), (3, 3), (3, 5), (4, 2), (4, 6), (5, 7), (5, 4), (4, 5)]


def history() -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for u, i in TRAIN_PAIRS:
        out.setdefault(u, set()).add(i)
    return out


def brute_cosine(i: int, j: int, shrink: float = 0.0) -> float:
    users_i = {u for u, x in TRAIN_PAIRS if x == i}
    users_j = {u for u, x in TRAIN_PAIRS if x == j}
    if not users_i or not users_j or i == j:
        return 0.0
    return len(users_i & users_j) / (math.sqrt(len(users_i)) * math.sqrt(len(users_j)) + shrink)


@pytest.mark.parametrize("shrink", [0.0, 1.0])
def test_itemknn_similarity_matches_brute_force(prepared, shrink: float) -> None:  # type: ignore[no-untyped-def]
    model = ItemKNN.from_prepared(prepared, {}, build_params(ItemKNN, {"k": 100, "shrink": shrink}))
    assert not is_trainable(model)
    want = np.array([[brute_cosine(i, j, shrink) for j in range(8)] for i in range(8)])
    assert np.allclose(model.similarity.numpy(), want, atol=1e-6)
    hist = history()
    for u in (2, 3, 4, 5):
        expect = [sum(want[h, j] for h in hist[u]) for j in range(8)]
        assert np.allclose(model.score_items(torch.tensor([u]))[0].numpy(), expect, atol=1e-6)
    pairs = model.predict({"user_id": torch.tensor([2, 5]), "item_id": torch.tensor([5, 2])})
    assert np.allclose(pairs.numpy(), [sum(want[h, 5] for h in hist[2]), sum(want[h, 2] for h in hist[5])], atol=1e-6)


def test_itemknn_keeps_top_k_neighbours_per_item(prepared) -> None:  # type: ignore[no-untyped-def]
    model = ItemKNN.from_prepared(prepared, {}, build_params(ItemKNN, {"k": 1}))
    full = np.array([[brute_cosine(i, j) for j in range(8)] for i in range(8)])
    kept = model.similarity.numpy()
    for j in range(2, 8):
        nonzero = np.flatnonzero(kept[:, j])
        assert len(nonzero) <= 1
        if full[:, j].max() > 0:
            assert kept[:, j].max() == pytest.approx(full[:, j].max())
    with pytest.raises(ConfigError, match="k must be >= 1"):
        ItemKNN(6, 8, build_params(ItemKNN, {"k": 0}))


def fake_encoder(texts: list[str]) -> torch.Tensor:
    """Deterministic 3-d 'text vectors': letter statistics of each title."""
    return torch.tensor([[len(t), t.count("a") + 1.0, t.count("o") - 1.0] for t in texts])


def test_content_scores_are_cosine_to_mean_profile(prepared) -> None:  # type: ignore[no-untyped-def]
    model = ContentBased.from_prepared(prepared, {}, build_params(ContentBased, {}), encode=fake_encoder)
    texts = prepared.fields["item_text"].texts
    vec = {i: np.array([len(texts[i]), texts[i].count("a") + 1.0, texts[i].count("o") - 1.0]) for i in range(2, 8)}
    hist = history()
    for u in (2, 3, 4, 5):
        profile = np.mean([vec[i] for i in hist[u]], axis=0)
        want = [0.0, 0.0] + [profile @ vec[j] / (np.linalg.norm(profile) * np.linalg.norm(vec[j])) for j in range(2, 8)]
        assert np.allclose(model.score_items(torch.tensor([u]))[0].numpy(), want, atol=1e-6)
    assert model.item_vectors().shape == (8, 3)


def test_content_needs_a_text_or_vector_field(prepared) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="'genre' is not a text or vector field"):
        ContentBased.from_prepared(prepared, {}, build_params(ContentBased, {"field": "genre"}), encode=fake_encoder)
    del prepared.fields["item_text"]
    with pytest.raises(ConfigError, match="needs an item text or vector field"):
        ContentBased.from_prepared(prepared, {}, build_params(ContentBased, {}), encode=fake_encoder)
