"""Per-group ranking of pointwise predictions (MIND's impression metrics): MRR and nDCG@K.

Click logs rank the candidates shown together (one impression, or one user's rows in the
DKN sample); these metrics sort each group's rows by score, average per group, then over the
groups that hold at least one click and one non-click (MIND's evaluation skips the others).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def grouped_ranking(labels: Any, scores: Any, groups: Any, ks: Sequence[int] = (5, 10)) -> dict[str, float]:
    """``{"mrr", "ndcg@k"...}`` averaged over groups; ties keep input order (stable sort).

    MRR of a group is ``sum(rel_i / rank_i) / sum(rel)`` (MIND's definition); nDCG@K uses
    binary gains ``1 / log2(rank + 1)``.
    """
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    g = np.unique(np.asarray(groups).reshape(-1), return_inverse=True)[1]
    order = np.lexsort((-s, g))  # by group, then score descending (stable)
    g, y = g[order], y[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    rank = np.arange(g.size) - np.repeat(starts, np.diff(np.r_[starts, g.size])) + 1
    n_groups = int(g.max()) + 1 if g.size else 0
    pos = np.bincount(g, weights=y, minlength=n_groups)
    size = np.bincount(g, minlength=n_groups)
    valid = (pos > 0) & (pos < size)
    out = {"mrr": float(np.mean((np.bincount(g, weights=y / rank, minlength=n_groups) / np.maximum(pos, 1))[valid]))
           if valid.any() else float("nan")}
    for k in ks:
        dcg = np.bincount(g, weights=np.where(rank <= k, y / np.log2(rank + 1), 0.0), minlength=n_groups)
        ideal_n = np.minimum(pos, k).astype(np.int64)
        discounts = np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))]
        idcg = discounts[ideal_n]
        out[f"ndcg@{k}"] = float(np.mean((dcg / np.maximum(idcg, 1e-12))[valid])) if valid.any() else float("nan")
    return out


def run_grouped_metrics(run_id: int, model_dir: Path, config: dict[str, Any], store: Any,
                        split: str = "test", group_field: str | None = None) -> dict[str, float]:
    """Group-wise MRR / nDCG@5/10 of a finished run's saved model, logged to the store as
    ``<split>.<metric>`` so the run's record carries them next to AUC and gAUC."""
    import torch

    from recforge.core.experiment import predict_table, prepare_data_once
    from recforge.core.saved_model import load_model

    loaded = load_model(model_dir, store=store)
    prepared = prepare_data_once(config["data"], store)
    table = prepared.splits[split]
    rows = table.batch(torch.arange(table.num_rows))
    preds = predict_table(loaded.model, table)
    groups = rows[group_field or prepared.user_field].numpy()
    metrics = grouped_ranking(rows[prepared.label].numpy(), preds.numpy(), groups)
    store.log_metrics(run_id, {f"{split}.{k}": v for k, v in metrics.items()})
    return metrics
