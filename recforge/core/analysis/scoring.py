"""Metrics for the analysis and the 'drop' they turn into.

Permutation views measure a *drop*: how much worse the metric gets when fields are shuffled.
For higher-is-better metrics (AUC) the drop is ``baseline - shuffled``; for lower-is-better
ones (logloss, RMSE) it is ``shuffled - baseline``; either way a positive drop means the
fields mattered and an ignored field gives exactly ``0``.

The metrics are vectorised (a sort for AUC, no per-row Python). When the rankers' shared
``recforge.core.metrics`` module provides a metric of the same name it is used instead, so the
analysis and the evaluator agree to the last digit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from recforge.core.errors import ConfigError, DataError, unknown_name

MetricFn = Callable[[np.ndarray, np.ndarray], float]


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula; ties count half."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1) > 0.5
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise DataError(
            f"AUC is undefined: the label has only one class in {labels.size} rows",
            fix="analyse a split (or sample) containing both positive and negative labels, or use --metric logloss",
        )
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Average 1-based rank of each distinct score: ranks before it plus the middle of its block.
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0
    rank_sum = float(avg_rank[inverse][labels].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def logloss(labels: np.ndarray, scores: np.ndarray) -> float:
    """Binary cross-entropy of probabilities ``scores`` (clipped to avoid infinities)."""
    p = np.clip(np.asarray(scores, dtype=np.float64), 1e-7, 1 - 1e-7)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def rmse(labels: np.ndarray, scores: np.ndarray) -> float:
    """Root mean squared error (rating regression)."""
    diff = np.asarray(scores, dtype=np.float64) - np.asarray(labels, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def mae(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean absolute error (rating regression)."""
    return float(np.mean(np.abs(np.asarray(scores, dtype=np.float64) - np.asarray(labels, dtype=np.float64))))


_BUILTIN: dict[str, tuple[MetricFn, bool]] = {
    "auc": (auc, True),
    "logloss": (logloss, False),
    "rmse": (rmse, False),
    "mae": (mae, False),
}


@dataclass(frozen=True)
class Metric:
    """A named metric and its direction; :meth:`drop` turns two values into a quality loss."""

    name: str
    fn: MetricFn
    higher_is_better: bool

    def __call__(self, labels: np.ndarray, scores: np.ndarray) -> float:
        return float(self.fn(labels, scores))

    def drop(self, baseline: float, shuffled: float) -> float:
        """Quality lost by shuffling: positive when the shuffled fields mattered."""
        return baseline - shuffled if self.higher_is_better else shuffled - baseline


def _shared_metric(name: str) -> MetricFn | None:
    """The evaluator's metric of this name via ``recforge.core.metrics.compute_metrics``."""
    try:
        from recforge.core.metrics import POINTWISE_METRICS, compute_metrics
    except ImportError:  # the analysis keeps working with its own implementations
        return None
    if name not in POINTWISE_METRICS:
        return None

    def shared(labels: np.ndarray, scores: np.ndarray) -> float:
        return float(compute_metrics([name], labels, scores)[name])

    return shared


def get_metric(name: str | Metric) -> Metric:
    """Resolve a metric name (``auc``, ``logloss``, ``rmse``, ``mae``) to a :class:`Metric`."""
    if isinstance(name, Metric):
        return name
    if not isinstance(name, str):
        raise ConfigError(f"metric must be a name, got {type(name).__name__}", fix=f"use one of {sorted(_BUILTIN)}")
    key = name.lower()
    if key not in _BUILTIN:
        raise unknown_name("analysis metric", name, _BUILTIN, fix=f"use one of {', '.join(sorted(_BUILTIN))}")
    own, higher = _BUILTIN[key]
    return Metric(key, _shared_metric(key) or own, higher)
