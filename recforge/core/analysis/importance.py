"""Permutation importance: the metric drop when one field (or a group of fields) is shuffled.

Each repeat ``r`` draws one row permutation and applies it to the field (or to every field of
a group at once), predicts again and records ``drop_r = metric.drop(baseline, shuffled_r)``.
All fields share the repeat's permutation (common random numbers), so differences between
fields -- and the pair view in :mod:`.pairs` -- are not blurred by independent shuffles.

A field the model ignores leaves every prediction unchanged, so its drop is exactly ``0``.
Correlated fields share credit: shuffling one leaves the information in the other, which is
why :mod:`.pairs` and the group view of :mod:`.text_vs_ids` exist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from recforge.core.analysis.columns import PredictFn, batched_predict, num_rows, permuted
from recforge.core.analysis.scoring import Metric, get_metric
from recforge.core.errors import ConfigError

# Two-sided 95% Student-t quantiles by degrees of freedom (normal beyond the table).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
        10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 60: 2.000}


def t95(df: int) -> float:
    """Two-sided 95% t quantile for ``df`` degrees of freedom (conservative between entries)."""
    for key in sorted(_T95):
        if df <= key:
            return _T95[key]
    return 1.96


@dataclass
class Summary:
    """Mean, spread and a 95% t-interval of per-repeat values."""

    mean: float
    std: float
    low: float
    high: float
    values: list[float]

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        arr = np.asarray(values, dtype=np.float64)
        mean = float(arr.mean())
        std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        half = t95(arr.size - 1) * std / math.sqrt(arr.size) if arr.size > 1 else 0.0
        return cls(mean, std, mean - half, mean + half, [float(v) for v in arr])

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def permutations(n: int, repeats: int, seed: int) -> list[Tensor]:
    """``repeats`` reproducible row permutations of ``n`` rows."""
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, got {repeats}", fix="pass --repeats 1 or more")
    gen = torch.Generator().manual_seed(seed)
    return [torch.randperm(n, generator=gen) for _ in range(repeats)]


def shuffled_drops(
    predict_fn: PredictFn,
    columns: Mapping[str, Tensor],
    labels: np.ndarray,
    fields: Sequence[str],
    perms: Sequence[Tensor],
    metric: Metric,
    baseline: float,
    batch_size: int = 8192,
) -> list[float]:
    """Per-permutation metric drops when ``fields`` are shuffled together."""
    drops = []
    for perm in perms:
        scores = batched_predict(predict_fn, permuted(columns, fields, perm), batch_size)
        drops.append(metric.drop(baseline, metric(labels, scores)))
    return drops


def permutation_importance(
    predict_fn: PredictFn,
    columns: Mapping[str, Tensor],
    labels: np.ndarray | Tensor,
    *,
    fields: Sequence[str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    repeats: int = 5,
    metric: str | Metric = "auc",
    seed: int = 0,
    batch_size: int = 8192,
) -> dict[str, object]:
    """Permutation importance of each field and of each named group of fields.

    Args:
        predict_fn: ``columns -> np.ndarray [B]`` scores.
        columns: field name -> tensor with one row per example (label excluded).
        labels: ``[N]`` targets.
        fields: fields to score one by one (default: every column).
        groups: optional name -> fields shuffled jointly (one permutation for the group).
        repeats: shuffles per field; intervals come from their spread.
        metric: ``auc`` (default), ``logloss``, ``rmse`` or ``mae``.
        seed: seed of the permutations (shared by every field).
        batch_size: rows per prediction call.

    Returns:
        ``{"metric", "baseline", "repeats", "fields": {name: Summary dict},
        "groups": {name: {"fields": [...], **Summary dict}}}``.

    Example:
        >>> imp = permutation_importance(fn, cols, y, repeats=5)
        >>> imp["fields"]["item_id"]["mean"]
    """
    m = get_metric(metric)
    y = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    n = num_rows(columns)
    names = list(columns) if fields is None else list(fields)
    perms = permutations(n, repeats, seed)
    baseline = m(y, batched_predict(predict_fn, columns, batch_size))
    result_fields = {
        name: Summary.of(shuffled_drops(predict_fn, columns, y, [name], perms, m, baseline, batch_size)).to_dict()
        for name in names
    }
    result_groups = {}
    for group, members in (groups or {}).items():
        if not members:
            continue
        drops = shuffled_drops(predict_fn, columns, y, list(members), perms, m, baseline, batch_size)
        result_groups[group] = {"fields": list(members), **Summary.of(drops).to_dict()}
    return {
        "metric": m.name,
        "baseline": baseline,
        "repeats": repeats,
        "rows": n,
        "fields": result_fields,
        "groups": result_groups,
    }


def ranked(importance: Mapping[str, Mapping[str, object]]) -> list[tuple[str, float]]:
    """``(field, mean drop)`` sorted by decreasing drop."""
    return sorted(((k, float(v["mean"])) for k, v in importance.items()), key=lambda kv: -kv[1])  # type: ignore[arg-type]
