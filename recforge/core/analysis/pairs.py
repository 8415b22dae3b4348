"""Pairwise interaction strength for every field pair, model-agnostic.

Two complementary estimates:

* **Permutation pair interaction** (on the metric): ``joint - single_a - single_b`` where
  ``joint`` is the drop from shuffling both fields with one permutation and the singles are
  the one-field drops (same permutations, see :mod:`.importance`). Zero when the two fields
  act independently of each other (and exactly zero when either is ignored). *Negative*
  means synergy: each field alone already destroys what they do together (e.g. a label that
  is the XOR of the two). *Positive* means redundancy: each can stand in for the other, so
  only shuffling both shows their shared information. ``strength = |interaction|`` ranks.
* **Friedman's H statistic** (on the prediction function, label-free): on a sample of ``s``
  rows, ``H^2_jk = sum_i (PD_jk - PD_j - PD_k)^2 / sum_i PD_jk^2`` with centred partial
  dependence functions, each estimated over the ``s`` sampled backgrounds (``s^2``
  predictions per field and per pair). ``H^2`` is the share of the pair's joint effect not
  explained by the two single effects (0 = additive, 1 = pure interaction);
  ``h_unnormalised = sqrt(mean (PD_jk - PD_j - PD_k)^2)`` is in prediction units, which keeps
  pairs with tiny joint effects from looking strong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import torch
from torch import Tensor

from recforge.core.analysis.columns import PredictFn, batched_predict, num_rows, sample_index, take
from recforge.core.analysis.importance import Summary, permutations, shuffled_drops
from recforge.core.analysis.scoring import Metric, get_metric
from recforge.core.errors import ConfigError


def permutation_pairs(
    predict_fn: PredictFn,
    columns: Mapping[str, Tensor],
    labels: np.ndarray | Tensor,
    *,
    fields: Sequence[str] | None = None,
    single: Mapping[str, Sequence[float]] | None = None,
    repeats: int = 5,
    metric: str | Metric = "auc",
    seed: int = 0,
    batch_size: int = 8192,
) -> list[dict[str, object]]:
    """Permutation interaction of every field pair, strongest first.

    Args:
        predict_fn: ``columns -> np.ndarray [B]`` scores.
        columns: field name -> tensor, one row per example.
        labels: ``[N]`` targets.
        fields: fields to pair (default: every column).
        single: per-repeat single-field drops from :func:`.permutation_importance` with the
            same ``seed`` and ``repeats`` (recomputed when missing).
        repeats: permutations per pair.
        metric: metric name (``auc`` by default).
        seed: permutation seed; must match the one of ``single``.
        batch_size: rows per prediction call.

    Returns:
        One dict per pair: ``a``, ``b``, ``joint`` (mean joint drop), ``single_a``,
        ``single_b``, ``interaction`` (Summary dict of ``joint - a - b`` per repeat) and
        ``strength`` (``|interaction mean|``), sorted by decreasing strength.

    Example:
        >>> pairs = permutation_pairs(fn, cols, y, repeats=3)
        >>> pairs[0]["a"], pairs[0]["b"], pairs[0]["strength"]
    """
    m = get_metric(metric)
    y = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    names = list(columns) if fields is None else list(fields)
    perms = permutations(num_rows(columns), repeats, seed)
    baseline = m(y, batched_predict(predict_fn, columns, batch_size))
    singles: dict[str, np.ndarray] = {}
    for name in names:
        given = None if single is None else single.get(name)
        if given is not None and len(given) != repeats:
            raise ConfigError(
                f"single drops of '{name}' have {len(given)} repeats, expected {repeats}",
                fix="pass the single drops computed with the same repeats and seed",
            )
        values = given if given is not None else shuffled_drops(predict_fn, columns, y, [name], perms, m, baseline, batch_size)
        singles[name] = np.asarray(values, dtype=np.float64)
    out = []
    for a, b in combinations(names, 2):
        joint = np.asarray(shuffled_drops(predict_fn, columns, y, [a, b], perms, m, baseline, batch_size))
        inter = Summary.of(joint - singles[a] - singles[b])
        out.append({
            "a": a,
            "b": b,
            "joint": float(joint.mean()),
            "single_a": float(singles[a].mean()),
            "single_b": float(singles[b].mean()),
            "interaction": inter.to_dict(),
            "strength": abs(inter.mean),
        })
    out.sort(key=lambda p: -float(p["strength"]))  # type: ignore[arg-type]
    return out


def _partial_dependence(
    predict_fn: PredictFn, sample: Mapping[str, Tensor], fields: Sequence[str], batch_size: int
) -> np.ndarray:
    """Centred partial dependence of ``fields`` at each sampled row's own values, ``[s]``.

    Row ``i`` of the result averages the model over every sampled background ``i'``, with
    ``fields`` taken from row ``i`` and all other fields from row ``i'``.
    """
    s = num_rows(sample)
    value_rows = torch.arange(s).repeat_interleave(s)
    background_rows = torch.arange(s).repeat(s)
    grid = {name: col[value_rows] if name in fields else col[background_rows] for name, col in sample.items()}
    pd = batched_predict(predict_fn, grid, batch_size).reshape(s, s).mean(axis=1)
    return pd - pd.mean()


def friedman_h(
    predict_fn: PredictFn,
    columns: Mapping[str, Tensor],
    *,
    fields: Sequence[str] | None = None,
    sample: int = 100,
    seed: int = 0,
    batch_size: int = 8192,
) -> list[dict[str, object]]:
    """Friedman's H statistic of every field pair on a random sample of rows.

    Args:
        predict_fn: ``columns -> np.ndarray [B]`` scores.
        columns: field name -> tensor, one row per example.
        fields: fields to pair (default: every column).
        sample: rows drawn; cost is ``sample^2`` predictions per field and per pair.
        seed: sampling seed.
        batch_size: rows per prediction call.

    Returns:
        One dict per pair: ``a``, ``b``, ``h2`` (0..1; 0 when the pair has no joint effect),
        ``h`` (its square root) and ``h_unnormalised``, sorted by decreasing ``h2``.

    Example:
        >>> friedman_h(fn, cols, sample=50)[0]["h2"]
    """
    names = list(columns) if fields is None else list(fields)
    rows = take(columns, sample_index(num_rows(columns), sample, seed))
    single = {name: _partial_dependence(predict_fn, rows, [name], batch_size) for name in names}
    out = []
    for a, b in combinations(names, 2):
        joint = _partial_dependence(predict_fn, rows, [a, b], batch_size)
        residual = joint - single[a] - single[b]
        num, den = float(np.sum(residual**2)), float(np.sum(joint**2))
        # A pair whose joint effect is numerically nil has no interaction to speak of.
        h2 = 0.0 if den <= 1e-12 * max(1.0, float(len(joint))) else min(1.0, num / den)
        out.append({
            "a": a,
            "b": b,
            "h2": h2,
            "h": float(np.sqrt(h2)),
            "h_unnormalised": float(np.sqrt(num / len(joint))),
        })
    out.sort(key=lambda p: -float(p["h2"]))  # type: ignore[arg-type]
    return out


def pair_matrix(pairs: Sequence[Mapping[str, object]], fields: Sequence[str], key: str) -> list[list[float | None]]:
    """Symmetric ``[F, F]`` matrix of ``pair[key]`` (diagonal ``None``) for heatmaps and JSON."""
    index = {name: i for i, name in enumerate(fields)}
    mat: list[list[float | None]] = [[None] * len(fields) for _ in fields]
    for pair in pairs:
        i, j = index.get(str(pair["a"])), index.get(str(pair["b"]))
        if i is None or j is None:
            continue
        value = pair[key]
        v = float(value["mean"]) if isinstance(value, Mapping) else float(value)  # type: ignore[arg-type]
        mat[i][j] = mat[j][i] = v
    return mat
