"""Vectorised evaluation metrics: pointwise (CTR / rating) and top-K ranking.

Pointwise metrics take flat arrays of labels and predictions::

    compute_metrics(["auc", "gauc", "logloss"], y_true, y_pred, groups=user_ids)

Ranking metrics take a score matrix ``[U, I]`` (one row per user, one column per candidate
item), each user's ground-truth items and the items to exclude (already seen), and follow
RecBole's definitions so figures are comparable with its published tables::

    rank_metrics(scores, ground_truth, k_list=[10], exclude=train_csr)

Users without any ground-truth item are skipped (they cannot be evaluated); every ranking
metric is the mean over the evaluated users, except ``coverage@K`` which is the share of the
catalogue that appears in at least one top-K list. No per-row Python: AUCs use rank sums,
ranking metrics one ``topk`` per chunk of users.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from scipy import sparse
from scipy.stats import rankdata
from torch import Tensor

from recforge.core.errors import ConfigError, DataError, unknown_name

POINTWISE_METRICS: tuple[str, ...] = ("auc", "gauc", "logloss", "ece", "rmse", "mae")
RANKING_METRICS: tuple[str, ...] = ("recall", "ndcg", "mrr", "hit", "precision", "map", "coverage")
LOGLOSS_EPS = 1e-7


def parse_metric(name: str) -> tuple[str, int | None]:
    """``"ndcg@10"`` -> ("ndcg", 10); ``"auc"`` -> ("auc", None). Unknown names fail."""
    text = name.strip().lower()
    base, _, k = text.partition("@")
    if base in POINTWISE_METRICS and not k:
        return base, None
    if base in RANKING_METRICS:
        if not k.isdigit() or int(k) <= 0:
            raise ConfigError(
                f"ranking metric '{name}' needs a cut-off", fix=f"write it as {base}@K, e.g. {base}@10"
            )
        return base, int(k)
    known = list(POINTWISE_METRICS) + [f"{m}@10" for m in RANKING_METRICS]
    raise unknown_name("metric", name, known, fix="use auc, gauc, logloss, ece, rmse, mae or <ranking>@K")


def _as_numpy(values: Any, what: str) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    return arr


# --------------------------------------------------------------------------- pointwise


def auc_score(y_true: Any, y_pred: Any) -> float:
    """Area under the ROC curve by the Mann-Whitney rank sum; tied predictions count half."""
    y = _as_numpy(y_true, "labels") > 0.5
    p = _as_numpy(y_pred, "predictions")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise DataError(
            "auc is undefined when every label is the same class",
            fix="evaluate on a split that has both positive and negative labels",
        )
    ranks = rankdata(p)  # average ranks for ties
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def gauc_score(y_true: Any, y_pred: Any, groups: Any) -> float:
    """Group AUC: the AUC of each group (user), weighted by the group's row count.

    Groups whose labels are all one class have no AUC and are left out (as in FuxiCTR and the
    DIN paper); when no group qualifies the result fails like :func:`auc_score`.
    """
    y = _as_numpy(y_true, "labels") > 0.5
    p = _as_numpy(y_pred, "predictions")
    g = np.asarray(groups.detach().cpu().numpy() if isinstance(groups, Tensor) else groups).reshape(-1)
    if g.size != y.size:
        raise DataError(f"gauc got {g.size} group ids for {y.size} rows", fix="pass one group id per row")
    _, gid = np.unique(g, return_inverse=True)
    order = np.lexsort((p, gid))
    gs, ps, ys = gid[order], p[order], y[order]
    n = ys.size
    sizes = np.bincount(gs)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    within = np.arange(n) - starts[gs] + 1.0  # 1-based position inside the group
    # tie blocks: runs of equal (group, prediction); each gets its mean position
    new_block = np.ones(n, dtype=bool)
    new_block[1:] = (gs[1:] != gs[:-1]) | (ps[1:] != ps[:-1])
    block = np.cumsum(new_block) - 1
    ranks = (np.bincount(block, weights=within) / np.bincount(block))[block]
    n_pos = np.bincount(gs, weights=ys.astype(np.float64), minlength=sizes.size)
    n_neg = sizes - n_pos
    pos_rank_sum = np.bincount(gs, weights=ranks * ys, minlength=sizes.size)
    valid = (n_pos > 0) & (n_neg > 0)
    if not valid.any():
        raise DataError(
            "gauc is undefined: no group has both positive and negative labels",
            fix="evaluate on data where users have clicks and non-clicks, or use auc",
        )
    aucs = (pos_rank_sum[valid] - n_pos[valid] * (n_pos[valid] + 1) / 2) / (n_pos[valid] * n_neg[valid])
    weights = sizes[valid].astype(np.float64)
    return float((aucs * weights).sum() / weights.sum())


def logloss_score(y_true: Any, y_pred: Any) -> float:
    """Binary cross-entropy of probabilities, clipped to ``[1e-7, 1 - 1e-7]``."""
    y = _as_numpy(y_true, "labels")
    p = np.clip(_as_numpy(y_pred, "predictions"), LOGLOSS_EPS, 1 - LOGLOSS_EPS)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def rmse_score(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error."""
    diff = _as_numpy(y_true, "labels") - _as_numpy(y_pred, "predictions")
    return float(np.sqrt((diff**2).mean()))


def mae_score(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error."""
    diff = _as_numpy(y_true, "labels") - _as_numpy(y_pred, "predictions")
    return float(np.abs(diff).mean())


def compute_metrics(
    names: Iterable[str], y_true: Any, y_pred: Any, groups: Any | None = None
) -> dict[str, float]:
    """Pointwise metrics by name (``auc``, ``gauc``, ``logloss``, ``ece``, ``rmse``, ``mae``).

    Args:
        names: metric names (case-insensitive); ranking names (``ndcg@10``) are rejected here
            because they need a score matrix, see :func:`rank_metrics`.
        y_true: labels ``[N]`` (0/1 for CTR, ratings for regression).
        y_pred: predictions ``[N]`` (probabilities for CTR).
        groups: ``[N]`` group ids (user ids) for ``gauc``.
    """
    yt = _as_numpy(y_true, "labels")
    yp = _as_numpy(y_pred, "predictions")
    if yt.size != yp.size:
        raise DataError(
            f"metrics got {yt.size} labels but {yp.size} predictions", fix="pass one prediction per label"
        )
    if yt.size == 0:
        raise DataError("metrics got no rows", fix="evaluate on a non-empty split")
    out: dict[str, float] = {}
    for name in names:
        base, k = parse_metric(name)
        if k is not None:
            raise ConfigError(
                f"'{name}' is a ranking metric", fix="compute it with rank_metrics / evaluate_full_ranking"
            )
        if base == "auc":
            out["auc"] = auc_score(yt, yp)
        elif base == "gauc":
            if groups is None:
                raise ConfigError("gauc needs group ids (users)", fix="pass groups=, or set eval.group_by")
            out["gauc"] = gauc_score(yt, yp, groups)
        elif base == "logloss":
            out["logloss"] = logloss_score(yt, yp)
        elif base == "ece":
            from recforge.core.calibration import expected_calibration_error

            out["ece"] = expected_calibration_error(yt, yp)
        elif base == "rmse":
            out["rmse"] = rmse_score(yt, yp)
        else:
            out["mae"] = mae_score(yt, yp)
    return out


# --------------------------------------------------------------------------- ranking


def to_csr(rows: Any, shape: tuple[int, int]) -> sparse.csr_matrix:
    """A binary CSR ``[U, I]`` from a CSR/sparse matrix, a dense array or a list of item lists."""
    if rows is None:
        return sparse.csr_matrix(shape, dtype=np.float32)
    if sparse.issparse(rows):
        mat = sparse.csr_matrix(rows, dtype=np.float32)
    elif isinstance(rows, (np.ndarray, Tensor)) and np.asarray(rows).ndim == 2:
        mat = sparse.csr_matrix(np.asarray(rows) != 0, dtype=np.float32)
    else:
        lists = [list(r) for r in rows]
        indptr = np.cumsum([0] + [len(r) for r in lists])
        indices = np.fromiter((i for r in lists for i in r), dtype=np.int64, count=int(indptr[-1]))
        mat = sparse.csr_matrix(
            (np.ones(indices.size, dtype=np.float32), indices, indptr), shape=(len(lists), shape[1])
        )
    if mat.shape != shape:
        raise DataError(
            f"ranking input has shape {mat.shape} but the scores are {shape}",
            fix="give one row per scored user and one column per scored item",
        )
    mat.data[:] = 1.0
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat


class RankingAccumulator:
    """Accumulates ranking metrics over chunks of users (full ranking never holds ``U x I``).

    Args:
        names: ranking metric names such as ``ndcg@10`` (pointwise names are ignored).
        num_items: catalogue size for ``coverage@K`` (defaults to the score matrix width).
    """

    def __init__(self, names: Iterable[str], num_items: int | None = None) -> None:
        self.wanted: list[tuple[str, int]] = []
        for name in names:
            base, k = parse_metric(name)
            if k is not None:
                self.wanted.append((base, k))
        if not self.wanted:
            raise ConfigError("no ranking metric requested", fix="ask for e.g. ndcg@10 or recall@20")
        self.max_k = max(k for _, k in self.wanted)
        self.num_items = num_items
        self.sums: dict[str, float] = {}
        self.users = 0
        self.covered: Tensor | None = None

    def update(self, scores: Tensor, ground_truth: Any, exclude: Any = None) -> None:
        """Add a chunk: ``scores [u, I]``, its users' ground truth and excluded items (CSR rows)."""
        scores = torch.as_tensor(scores).detach().float().cpu()
        shape = (scores.shape[0], scores.shape[1])
        gt = torch.from_numpy(to_csr(ground_truth, shape).toarray() > 0)
        masked = scores.clone()
        if exclude is not None:
            ex = to_csr(exclude, shape).tocoo()
            masked[torch.from_numpy(ex.row.astype(np.int64)), torch.from_numpy(ex.col.astype(np.int64))] = -torch.inf
        n_pos = gt.sum(1)
        keep = n_pos > 0
        if not keep.any():
            return
        masked, gt, n_pos = masked[keep], gt[keep], n_pos[keep].double()
        k_all = min(self.max_k, shape[1])
        top_scores, top = torch.topk(masked, k_all, dim=1)
        valid = torch.isfinite(top_scores)
        hits = gt.gather(1, top) & valid
        if self.covered is None:
            self.covered = torch.zeros((self.max_k, shape[1]), dtype=torch.bool)
        self._accumulate(hits.double(), n_pos, top, valid)
        self.users += int(keep.sum())

    def _accumulate(self, hits: Tensor, n_pos: Tensor, top: Tensor, valid: Tensor) -> None:
        ranks = torch.arange(1, hits.shape[1] + 1, dtype=torch.float64)
        discounts = 1.0 / torch.log2(ranks + 1.0)
        cum_hits = hits.cumsum(1)
        ideal_cum = discounts.cumsum(0)
        for base, k in self.wanted:
            kk = min(k, hits.shape[1])
            h = hits[:, :kk]
            key = f"{base}@{k}"
            if base == "coverage":
                assert self.covered is not None
                items = top[:, :kk][valid[:, :kk]]
                self.covered[k - 1, items] = True
                continue
            if base == "recall":
                per_user = h.sum(1) / n_pos
            elif base == "precision":
                per_user = h.sum(1) / k
            elif base == "hit":
                per_user = (h.sum(1) > 0).double()
            elif base == "mrr":
                first = torch.where(h.any(1), h.argmax(1).double() + 1.0, torch.inf)
                per_user = 1.0 / first
            elif base == "ndcg":
                dcg = (h * discounts[:kk]).sum(1)
                idcg = ideal_cum[(torch.clamp(n_pos, max=kk) - 1).long()]
                per_user = dcg / idcg
            else:  # map: mean precision at each hit, over min(|gt|, k)
                prec = cum_hits[:, :kk] / ranks[:kk]
                per_user = (prec * h).sum(1) / torch.clamp(n_pos, max=k)
            self.sums[key] = self.sums.get(key, 0.0) + float(per_user.sum())

    def result(self) -> dict[str, float]:
        """Mean over evaluated users (coverage: share of the catalogue in any top-K list)."""
        out: dict[str, float] = {}
        for base, k in self.wanted:
            key = f"{base}@{k}"
            if base == "coverage":
                if self.covered is None:
                    out[key] = 0.0
                else:
                    total = self.num_items or self.covered.shape[1]
                    out[key] = float(self.covered[k - 1].sum()) / total
            else:
                out[key] = self.sums.get(key, 0.0) / self.users if self.users else float("nan")
        return out


def rank_metrics(
    scores: Any,
    ground_truth: Any,
    k_list: Sequence[int] | Iterable[str],
    exclude: Any = None,
    metrics: Sequence[str] = ("recall", "ndcg", "mrr", "hit", "precision", "map", "coverage"),
    num_items: int | None = None,
) -> dict[str, float]:
    """Top-K metrics of a score matrix.

    Args:
        scores: ``[U, I]`` scores (higher is better).
        ground_truth: each user's relevant items (CSR ``[U, I]`` or a list of item lists).
        k_list: cut-offs such as ``[10, 20]``, or full metric names such as ``["ndcg@10"]``.
        exclude: items never to rank per user (CSR or lists), e.g. their training items.
        metrics: base names combined with each cut-off when ``k_list`` holds integers.
        num_items: catalogue size for coverage (default: ``I``).

    Returns:
        ``{"ndcg@10": ..., ...}``: means over users with at least one ground-truth item.
    """
    ks = list(k_list)
    names = [str(k) for k in ks] if ks and isinstance(ks[0], str) else [f"{m}@{k}" for m in metrics for k in ks]
    acc = RankingAccumulator(names, num_items=num_items)
    acc.update(torch.as_tensor(np.asarray(scores) if not isinstance(scores, Tensor) else scores), ground_truth, exclude)
    return acc.result()
