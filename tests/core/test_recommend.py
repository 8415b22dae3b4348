"""Top-K from a saved model: brute-force argsort reference, seen-item exclusion, files, similar."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from trainer_fixtures import ensure_components, make_prepared, model_config  # noqa: E402

from recforge.core.errors import ConfigError, NotFoundError  # noqa: E402
from recforge.core.model import build_model  # noqa: E402
from recforge.core.recommend import Recommender  # noqa: E402
from recforge.core.saved_model import load_model, save_model  # noqa: E402


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    ensure_components()
    prepared = make_prepared()
    torch.manual_seed(5)
    model = build_model(model_config("deepfm"), prepared)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    folder = save_model(model, prepared, model_config("deepfm"), tmp_path_factory.mktemp("m") / "model")
    return Recommender(load_model(folder)), prepared


def _brute_force(rec, user_idx, k, exclude):
    """Score each known item one pair at a time, sort in Python."""
    model = rec.model
    n = model.num_items()
    scored = []
    for item in range(2, n):
        if item in exclude:
            continue
        batch = model.pair_batch(torch.tensor([user_idx]), torch.tensor([item]))
        with torch.no_grad():
            scored.append((float(model.predict(batch)[0]), item))
    scored.sort(key=lambda t: -t[0])
    return [i for _, i in scored[:k]]


def _seen(prepared, user_idx):
    train = prepared.splits["train"].batch(torch.arange(prepared.splits["train"].num_rows))
    return set(train["item_id"][train["user_id"] == user_idx].tolist())


def test_top_k_equals_brute_force_and_excludes_seen(rec):
    recommender, prepared = rec
    user_idx = recommender.user_index("4")
    seen = _seen(prepared, user_idx)
    assert seen
    got = recommender.recommend("4", k=10, exclude_seen=True)
    assert [r["rank"] for r in got] == list(range(1, 11))
    ids = [int(prepared.featuremap.index_of("item_id", [r["item"]])[0]) for r in got]
    assert not set(ids) & seen
    assert ids == _brute_force(recommender, user_idx, 10, seen)
    scores = [r["score"] for r in got]
    assert scores == sorted(scores, reverse=True)
    assert got[0]["title"] == f"Movie {got[0]['item']}"
    # without exclusion the seen items compete again
    plain = recommender.recommend("4", k=10)
    assert [int(prepared.featuremap.index_of("item_id", [r["item"]])[0]) for r in plain] == \
        _brute_force(recommender, user_idx, 10, set())


def test_k_larger_than_catalogue_returns_only_real_items(rec):
    recommender, prepared = rec
    n_known = prepared.fields["item_id"].vocab_size - 2
    user_idx = recommender.user_index("4")
    got = recommender.recommend("4", k=10_000, exclude_seen=True)
    assert len(got) == n_known - len(_seen(prepared, user_idx))


def test_unknown_user_and_item_fail_with_fix(rec):
    recommender, _ = rec
    with pytest.raises(NotFoundError, match="user 'nobody'"):
        recommender.recommend("nobody")
    with pytest.raises(NotFoundError, match="item 'nothing'"):
        recommender.similar("nothing")
    with pytest.raises(ConfigError, match="k must be"):
        recommender.recommend("4", k=0)


def test_all_users_csv_and_jsonl(rec, tmp_path):
    recommender, prepared = rec
    n_users = prepared.fields["user_id"].vocab_size - 2
    assert recommender.recommend_all(tmp_path / "all.csv", k=3, exclude_seen=True) == n_users
    rows = list(csv.DictReader((tmp_path / "all.csv").open()))
    assert len(rows) == 3 * n_users and rows[0].keys() == {"user", "rank", "item", "score"}
    top_4 = [r["item"] for r in rows if r["user"] == "4"]
    assert top_4 == [r["item"] for r in recommender.recommend("4", k=3, exclude_seen=True)]
    recommender.recommend_all(tmp_path / "all.jsonl", k=2)
    first = json.loads((tmp_path / "all.jsonl").read_text().splitlines()[0])
    assert set(first) == {"user", "items", "scores"} and len(first["items"]) == 2
    with pytest.raises(ConfigError, match=r"\.csv or \.jsonl"):
        recommender.recommend_all(tmp_path / "all.txt")


def test_similar_is_cosine_over_item_vectors(rec):
    recommender, prepared = rec
    vectors = torch.nn.functional.normalize(recommender.model.item_vectors(), dim=1)
    idx = recommender.item_index("7")
    sims = vectors[2:] @ vectors[idx]
    order = [i + 2 for i in torch.argsort(sims, descending=True).tolist() if i + 2 != idx][:5]
    got = recommender.similar("7", k=5)
    assert [int(prepared.featuremap.index_of("item_id", [r["item"]])[0]) for r in got] == order
    assert all(-1.0 - 1e-6 <= r["score"] <= 1.0 + 1e-6 for r in got)
    with pytest.raises(ConfigError, match="no text item vectors"):
        recommender.similar("7", by="text")
