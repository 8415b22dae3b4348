"""Top-K evaluation of a model over the whole catalogue (RecBole's protocol) or sampled items.

Full ranking (``evaluate_full_ranking``) scores every user with ground truth in a split against
every item, removes the items the user already interacted with in the earlier splits (for the
test split: train and valid; for valid: train -- exactly what RecBole's full-sort evaluation
does) and computes the ranking metrics of :mod:`recforge.core.metrics`. Sampled evaluation
(``evaluate_sampled``) ranks each user's ground-truth items among ``num_negatives`` uniformly
sampled unseen items per ground-truth item (RecBole's ``uni100`` mode for ``num_negatives=100``).

Item columns follow the vocabulary convention of ``recforge.core.data.schema``: column ``j`` is
item index ``j``; padding (0) and unknown (1) are never ranked, and coverage counts the known
items only. Users are processed in chunks so no ``U x I`` matrix is held at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from scipy import sparse
from torch import Tensor

from recforge.core.data.interactions import column, id_fields, interaction_csr  # noqa: F401 - re-exported
from recforge.core.data.schema import FIRST
from recforge.core.errors import ConfigError
from recforge.core.metrics import RankingAccumulator
from recforge.core.model_api import RowScorer

SPLIT_ORDER: tuple[str, ...] = ("train", "valid", "test")
DEFAULT_RANKING_METRICS: tuple[str, ...] = ("recall", "mrr", "ndcg", "hit", "precision")


def _earlier_splits(prepared: Any, split: str) -> list[str]:
    if split not in SPLIT_ORDER:
        return [s for s in ("train",) if s in prepared.splits]
    return [s for s in SPLIT_ORDER[: SPLIT_ORDER.index(split)] if s in prepared.splits]


def _metric_names(metrics: Sequence[str] | None, ks: Sequence[int]) -> list[str]:
    names = list(metrics) if metrics else list(DEFAULT_RANKING_METRICS)
    return [m if "@" in m else f"{m}@{k}" for m in names for k in (ks if "@" not in m else [0])]


def _score_chunk(model: Any, users: Tensor, device: Any) -> Tensor:
    try:
        scores = model.score_items(users.to(device))
    except NotImplementedError:
        raise ConfigError(
            f"model '{type(model).__name__}' cannot score all items for a user",
            fix="use a model with user and item fields, or pointwise metrics (auc, logloss)",
        ) from None
    scores = scores.detach().float().cpu()
    scores[:, :FIRST] = -torch.inf
    return scores


@contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    """Eval mode (no dropout, cached item vectors) for the duration, then the previous mode."""
    was_training = bool(getattr(model, "training", False))
    if hasattr(model, "eval"):
        model.eval()
    try:
        yield
    finally:
        if was_training and hasattr(model, "train"):
            model.train()


def _eval_users(gt: sparse.csr_matrix) -> Tensor:
    return torch.from_numpy(np.flatnonzero(np.diff(gt.indptr) > 0).astype(np.int64))


@torch.no_grad()
def evaluate_full_ranking(
    model: Any,
    prepared: Any,
    split: str = "test",
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] | None = None,
    exclude_splits: Sequence[str] | None = None,
    batch_size: int = 512,
    device: Any = "cpu",
) -> dict[str, float]:
    """Full-ranking metrics of ``model`` on ``split`` (RecBole's full-sort protocol).

    Args:
        model: a ``RecommenderModel`` implementing ``score_items``.
        prepared: the ``PreparedData`` the model was trained on.
        split: the split whose interactions are the ground truth.
        ks: cut-offs, combined with each metric name that has none.
        metrics: metric names (``ndcg``, ``recall@20``...); default recall, mrr, ndcg, hit,
            precision.
        exclude_splits: splits whose items are never ranked for a user; default all splits
            before ``split`` (test: train + valid, valid: train).
        batch_size: users scored per chunk.
        device: where the model runs.
    """
    names = _metric_names(metrics, ks)
    gt = interaction_csr(prepared, split, positive_only=True)
    excl_names = _earlier_splits(prepared, split) if exclude_splits is None else list(exclude_splits)
    excl = interaction_csr(prepared, excl_names) if excl_names else None
    if excl is not None:  # a ground-truth item seen before stays rankable (RecBole: history - positives)
        excl = excl - excl.multiply(gt)
        excl.eliminate_zeros()
    acc = RankingAccumulator(names, num_items=gt.shape[1] - FIRST)
    users = _eval_users(gt)
    with _eval_mode(model):
        for start in range(0, users.numel(), batch_size):
            chunk = users[start : start + batch_size]
            idx = chunk.numpy()
            scores = _score_chunk(model, chunk, device)
            acc.update(scores, gt[idx], excl[idx] if excl is not None else None)
    return acc.result()


def sample_candidates(
    seen: sparse.csr_matrix, counts: np.ndarray, generator: torch.Generator
) -> Tensor:
    """Per row, ``counts[r]`` distinct uniformly drawn unseen known items, as a bool mask ``[R, I]``.

    Exact sampling without replacement by random keys: every unseen item gets a uniform key,
    and the ``counts[r]`` smallest keys win (rows with fewer unseen items take them all).
    """
    n_rows, n_items = seen.shape
    keys = torch.rand((n_rows, n_items), generator=generator)
    blocked = torch.from_numpy(seen.toarray() > 0)
    blocked[:, :FIRST] = True
    keys[blocked] = torch.inf
    k = int(max(1, counts.max())) if counts.size else 1
    k = min(k, n_items)
    top_keys, top = torch.topk(keys, k, dim=1, largest=False)
    take = (torch.arange(k).unsqueeze(0) < torch.from_numpy(counts).unsqueeze(1)) & torch.isfinite(top_keys)
    mask = torch.zeros((n_rows, n_items), dtype=torch.bool)
    mask[torch.arange(n_rows).unsqueeze(1).expand_as(top)[take], top[take]] = True
    return mask


@torch.no_grad()
def evaluate_sampled(
    model: Any,
    prepared: Any,
    split: str = "test",
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] | None = None,
    num_negatives: int = 100,
    seed: int = 2024,
    batch_size: int = 512,
    device: Any = "cpu",
) -> dict[str, float]:
    """Ranking metrics among each user's ground truth plus sampled unseen negatives.

    Every ground-truth item brings ``num_negatives`` negatives drawn uniformly (without
    replacement) from the items the user never interacted with in ``split`` or an earlier
    split (RecBole's phases: valid excludes train + valid, test every split), so validation
    during training never reads the sealed test split.
    """
    if num_negatives < 1:
        raise ConfigError(f"num_negatives must be >= 1, got {num_negatives}", fix="set eval.num_negatives")
    names = _metric_names(metrics, ks)
    gt = interaction_csr(prepared, split, positive_only=True)
    seen = interaction_csr(prepared, list(dict.fromkeys([*_earlier_splits(prepared, split), split])))
    acc = RankingAccumulator(names, num_items=gt.shape[1] - FIRST)
    generator = torch.Generator().manual_seed(seed)
    users = _eval_users(gt)
    with _eval_mode(model):
        for start in range(0, users.numel(), batch_size):
            chunk = users[start : start + batch_size]
            idx = chunk.numpy()
            gt_rows = gt[idx]
            counts = np.diff(gt_rows.indptr) * num_negatives
            candidates = sample_candidates(seen[idx], counts, generator) | torch.from_numpy(gt_rows.toarray() > 0)
            scores = _score_chunk(model, chunk, device)
            scores[~candidates] = -torch.inf
            acc.update(scores, gt_rows)
    return acc.result()


@torch.no_grad()
def evaluate_rows(
    model: Any,
    prepared: Any,
    split: str = "test",
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] | None = None,
    batch_size: int = 512,
    device: Any = "cpu",
) -> dict[str, float]:
    """Full ranking per row: each row (e.g. a purchase history) ranks every item, and the row's
    own item is its one relevant item (next-item protocol of sequential recommenders).

    Unlike :func:`evaluate_full_ranking`, the query is the row's own features (its history),
    not a user id, so rows of users never seen in training are ranked by their history; no
    item is excluded (repeat purchases count). The model scores rows with
    ``score_rows(batch) -> [B, I]``.
    """
    if not isinstance(model, RowScorer):
        raise ConfigError(f"model '{type(model).__name__}' cannot rank items per row",
                          fix="use a ranker with row queries, e.g. two-tower with row_queries: true, or protocol: full")
    names = _metric_names(metrics, ks)
    _, item, _, n_items = id_fields(prepared)
    table = prepared.splits[split]
    acc = RankingAccumulator(names, num_items=n_items - FIRST)
    with _eval_mode(model):
        for batch in table.iter_batches(batch_size):
            gt_items = batch[item].long().numpy()
            scores = model.score_rows({k: v.to(device) for k, v in batch.items()}).detach().float().cpu()
            scores[:, :FIRST] = -torch.inf
            gt = sparse.csr_matrix((np.ones(gt_items.size, dtype=np.float32), (np.arange(gt_items.size), gt_items)),
                                   shape=(gt_items.size, n_items))
            acc.update(scores, gt)
    return acc.result()
