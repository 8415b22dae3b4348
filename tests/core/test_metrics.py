"""Every metric against scikit-learn or a brute-force reference, on random and hand-built inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error, roc_auc_score

from recforge.core.errors import ConfigError, DataError, RecforgeError
from recforge.core.metrics import (
    RankingAccumulator,
    compute_metrics,
    parse_metric,
    rank_metrics,
)

# ----------------------------------------------------------------------------- pointwise


def test_auc_matches_sklearn_with_heavy_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = rng.integers(0, 5, 500) / 4.0  # only 5 distinct scores: many ties
    assert compute_metrics(["auc"], y, p)["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_auc_hand_computed() -> None:
    # pairs (pos, neg): (0.8,0.3)=1 (0.8,0.5)=1 (0.5,0.3)=1 (0.5,0.5)=0.5 -> 3.5 / 4
    assert compute_metrics(["auc"], [1, 0, 1, 0], [0.8, 0.3, 0.5, 0.5])["auc"] == pytest.approx(0.875)


def test_gauc_matches_per_user_sklearn_weighted_by_rows() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    groups = rng.integers(0, 60, n)
    y = rng.integers(0, 2, n)
    p = np.round(rng.random(n), 1)  # ties inside groups
    num = den = 0.0
    for g in np.unique(groups):
        m = groups == g
        if 0 < y[m].sum() < m.sum():
            num += roc_auc_score(y[m], p[m]) * m.sum()
            den += m.sum()
    got = compute_metrics(["gauc"], y, p, groups=groups)["gauc"]
    assert got == pytest.approx(num / den, abs=1e-12)


def test_gauc_skips_single_class_groups() -> None:
    y = [1, 0, 1, 1, 0, 0]
    p = [0.9, 0.1, 0.2, 0.3, 0.4, 0.6]
    groups = ["a", "a", "b", "b", "c", "c"]  # only "a" has both classes
    assert compute_metrics(["gauc"], y, p, groups=groups)["gauc"] == pytest.approx(1.0)


def test_pointwise_regression_and_logloss_match_sklearn() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    p = rng.uniform(0.05, 0.95, 300)
    out = compute_metrics(["logloss", "rmse", "mae", "AUC"], y, torch.tensor(p))
    assert out["logloss"] == pytest.approx(log_loss(y, p), rel=1e-9)
    assert out["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y, p)), rel=1e-9)
    assert out["mae"] == pytest.approx(mean_absolute_error(y, p), rel=1e-9)
    assert set(out) == {"logloss", "rmse", "mae", "auc"}


def test_pointwise_bad_input_raises_recforge_errors() -> None:
    with pytest.raises(DataError, match="every label is the same class"):
        compute_metrics(["auc"], [1, 1], [0.2, 0.4])
    with pytest.raises(DataError, match="3 labels but 2 predictions"):
        compute_metrics(["mae"], [1, 2, 3], [1, 2])
    with pytest.raises(ConfigError, match="did you mean 'auc'"):
        compute_metrics(["acu"], [1, 0], [0.2, 0.4])
    with pytest.raises(ConfigError, match="gauc needs group ids"):
        compute_metrics(["gauc"], [1, 0], [0.2, 0.4])
    with pytest.raises(ConfigError, match="ndcg@K"):
        parse_metric("ndcg")
    with pytest.raises(RecforgeError, match="ranking metric"):
        compute_metrics(["ndcg@10"], [1, 0], [0.2, 0.4])


# ----------------------------------------------------------------------------- ranking


def brute_force(scores: np.ndarray, gt: list[set[int]], k: int, exclude: list[set[int]], n_items: int) -> dict:
    """Per-user loops, straight from RecBole's metric definitions."""
    sums = dict.fromkeys(["recall", "ndcg", "mrr", "hit", "precision", "map"], 0.0)
    users = 0
    covered: set[int] = set()
    for u in range(scores.shape[0]):
        if not gt[u]:
            continue
        users += 1
        cand = [i for i in np.argsort(-scores[u], kind="stable") if i not in exclude[u]][:k]
        covered.update(cand)
        rel = [1 if i in gt[u] else 0 for i in cand]
        n = len(gt[u])
        sums["recall"] += sum(rel) / n
        sums["precision"] += sum(rel) / k
        sums["hit"] += float(any(rel))
        sums["mrr"] += next((1.0 / (r + 1) for r, x in enumerate(rel) if x), 0.0)
        dcg = sum(x / math.log2(r + 2) for r, x in enumerate(rel))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(n, k)))
        sums["ndcg"] += dcg / idcg
        ap = sum(sum(rel[: r + 1]) / (r + 1) for r, x in enumerate(rel) if x)
        sums["map"] += ap / min(n, k)
    out = {f"{m}@{k}": v / users for m, v in sums.items()}
    out[f"coverage@{k}"] = len(covered) / n_items
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_metrics_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items = 40, 30
    scores = rng.standard_normal((n_users, n_items))  # continuous: no ties, order is unique
    gt = [set(rng.choice(n_items, rng.integers(0, 6), replace=False).tolist()) for _ in range(n_users)]
    exclude = [set(rng.choice(n_items, rng.integers(0, 8), replace=False).tolist()) - gt[u] for u in range(n_users)]
    for k in (1, 5, 10):
        got = rank_metrics(scores, [sorted(g) for g in gt], [k], exclude=[sorted(e) for e in exclude])
        want = brute_force(scores, gt, k, exclude, n_items)
        assert got.keys() == want.keys()
        for key in want:
            assert got[key] == pytest.approx(want[key], abs=1e-12), key


def test_rank_metrics_hand_built_example() -> None:
    # one user, items ranked 3,0,1,2 (item 3 excluded -> ranking 0,1,2); relevant {1,2}
    scores = torch.tensor([[0.9, 0.5, 0.1, 5.0]])
    gt = sparse.csr_matrix(np.array([[0, 1, 1, 0]]))
    out = rank_metrics(scores, gt, [2], exclude=[[3]])
    # top-2 = [0, 1]: one hit at rank 2
    assert out["hit@2"] == 1.0
    assert out["recall@2"] == pytest.approx(0.5)
    assert out["precision@2"] == pytest.approx(0.5)
    assert out["mrr@2"] == pytest.approx(0.5)
    assert out["ndcg@2"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert out["map@2"] == pytest.approx((1 / 2) / 2)
    assert out["coverage@2"] == pytest.approx(2 / 4)


def test_accumulator_over_chunks_equals_one_shot() -> None:
    rng = np.random.default_rng(5)
    scores = rng.standard_normal((50, 20))
    gt = sparse.random(50, 20, density=0.15, random_state=3, format="csr")
    ex = sparse.random(50, 20, density=0.1, random_state=4, format="csr")
    names = ["ndcg@5", "recall@10", "coverage@3", "map@5"]
    whole = rank_metrics(scores, gt, names, exclude=ex)
    acc = RankingAccumulator(names, num_items=20)
    for start in range(0, 50, 17):
        acc.update(torch.tensor(scores[start : start + 17]), gt[start : start + 17], ex[start : start + 17])
    assert acc.result() == pytest.approx(whole)


def test_users_without_ground_truth_are_skipped_and_perfect_ranking_scores_one() -> None:
    scores = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    out = rank_metrics(scores, [[0, 1], []], [2])
    assert out["ndcg@2"] == 1.0 and out["recall@2"] == 1.0 and out["map@2"] == 1.0


def test_ranking_input_shape_mismatch_is_a_data_error() -> None:
    with pytest.raises(DataError, match="shape"):
        rank_metrics(np.zeros((2, 3)), sparse.csr_matrix((3, 3)), [1])
