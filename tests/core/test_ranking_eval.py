"""Full-ranking (RecBole protocol) and sampled evaluation against brute-force references."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from recforge.core.data.schema import FieldInfo
from recforge.core.data.table import TensorTable
from recforge.core.errors import ConfigError
from recforge.core.ranking_eval import (
    evaluate_full_ranking,
    evaluate_sampled,
    interaction_csr,
    sample_candidates,
)

N_USERS, N_ITEMS = 12, 25  # vocab sizes: indices 0/1 are padding/unknown


def make_prepared(seed: int = 0) -> SimpleNamespace:
    """Random interactions split 8:1:1 per user, like RecBole's RS + group_by user."""
    rng = np.random.default_rng(seed)
    splits: dict[str, list[tuple[int, int]]] = {"train": [], "valid": [], "test": []}
    for u in range(2, N_USERS):
        items = rng.choice(np.arange(2, N_ITEMS), 10, replace=False)
        for name, part in zip(splits, (items[:8], items[8:9], items[9:]), strict=True):
            splits[name] += [(u, int(i)) for i in part]
    tables = {
        name: TensorTable({"user_id": torch.tensor([r[0] for r in rows]), "item_id": torch.tensor([r[1] for r in rows])})
        for name, rows in splits.items()
    }
    return SimpleNamespace(
        user_field="user_id",
        item_field="item_id",
        label=None,
        fields={
            "user_id": FieldInfo("user_id", "categorical", "user", vocab_size=N_USERS),
            "item_id": FieldInfo("item_id", "categorical", "item", vocab_size=N_ITEMS),
        },
        splits=tables,
        raw=splits,
    )


class FixedScores(nn.Module):
    """A model whose scores are a fixed matrix (user index x item index)."""

    task = "retrieval"

    def __init__(self, scores: torch.Tensor) -> None:
        super().__init__()
        self.scores = scores

    def score_items(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        out = self.scores[users]
        return out if items is None else out[:, items]


def test_interaction_csr_counts() -> None:
    prep = make_prepared()
    train = interaction_csr(prep, "train")
    assert train.shape == (N_USERS, N_ITEMS) and train.nnz == 8 * (N_USERS - 2)
    both = interaction_csr(prep, ["train", "valid"])
    assert both.nnz == 9 * (N_USERS - 2)


def test_training_items_never_ranked_even_when_scored_highest() -> None:
    prep = make_prepared()
    scores = torch.zeros(N_USERS, N_ITEMS)
    scores[:, :2] = 1e6  # padding / unknown columns: never ranked
    for split, value in (("train", 100.0), ("valid", 50.0), ("test", 10.0)):
        for u, i in prep.raw[split]:
            scores[u, i] = value
    out = evaluate_full_ranking(FixedScores(scores), prep, "test", ks=[1], metrics=["recall", "ndcg", "coverage"])
    # with train and valid items removed, each user's single test item is ranked first
    assert out["recall@1"] == 1.0 and out["ndcg@1"] == 1.0
    valid = evaluate_full_ranking(FixedScores(scores), prep, "valid", ks=[1], metrics=["hit"])
    # on valid only train is removed: test items (10) rank below valid (50)
    assert valid["hit@1"] == 1.0
    no_excl = evaluate_full_ranking(FixedScores(scores), prep, "test", ks=[1], metrics=["hit"], exclude_splits=[])
    assert no_excl["hit@1"] == 0.0


def test_full_ranking_matches_brute_force() -> None:
    prep = make_prepared(3)
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(N_USERS, N_ITEMS, generator=gen)
    got = evaluate_full_ranking(FixedScores(scores), prep, "test", ks=[5], metrics=["ndcg", "recall", "mrr"], batch_size=4)
    seen: dict[int, set[int]] = {}
    for u, i in prep.raw["train"] + prep.raw["valid"]:
        seen.setdefault(u, set()).add(i)
    ndcg = rec = mrr = 0.0
    users = sorted({u for u, _ in prep.raw["test"]})
    for u in users:
        truth = {i for uu, i in prep.raw["test"] if uu == u}
        ranked = [i for i in torch.argsort(scores[u], descending=True).tolist() if i >= 2 and i not in seen[u]][:5]
        rel = [int(i in truth) for i in ranked]
        ndcg += sum(r / math.log2(k + 2) for k, r in enumerate(rel)) / 1.0
        rec += sum(rel) / len(truth)
        mrr += next((1 / (k + 1) for k, r in enumerate(rel) if r), 0.0)
    assert got["ndcg@5"] == pytest.approx(ndcg / len(users))
    assert got["recall@5"] == pytest.approx(rec / len(users))
    assert got["mrr@5"] == pytest.approx(mrr / len(users))


def test_sample_candidates_draws_exact_counts_of_unseen_items() -> None:
    prep = make_prepared()
    seen = interaction_csr(prep, ["train", "valid", "test"])
    counts = np.array([0, 0] + [5] * (N_USERS - 2))
    mask = sample_candidates(seen, counts, torch.Generator().manual_seed(1))
    assert mask.sum(1).tolist() == counts.tolist()
    assert not (mask & torch.from_numpy(seen.toarray() > 0)).any()
    assert not mask[:, :2].any()


def test_sampled_eval_perfect_and_inverted_models() -> None:
    prep = make_prepared()
    truth = torch.zeros(N_USERS, N_ITEMS)
    for u, i in prep.raw["test"]:
        truth[u, i] = 1.0
    perfect = evaluate_sampled(FixedScores(truth), prep, "test", ks=[1], metrics=["hit"], num_negatives=5)
    assert perfect["hit@1"] == 1.0
    # ground truth scored lowest among 1 + 5 candidates: rank 6, so hit@5 = 0, hit@6 = 1
    worst = evaluate_sampled(FixedScores(-truth), prep, "test", metrics=["hit@5", "hit@6"], num_negatives=5)
    assert worst == {"hit@5": 0.0, "hit@6": 1.0}


def test_ranking_without_score_items_is_a_config_error() -> None:
    class NoScore(nn.Module):
        def score_items(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
            raise NotImplementedError

    with pytest.raises(ConfigError, match="cannot score all items"):
        evaluate_full_ranking(NoScore(), make_prepared(), "test")
