"""Information gain (mutual information) of each field with the label, model-free.

``I(X; Y) = sum p(x, y) log2 p(x, y) / (p(x) p(y))`` in bits, from the empirical joint
distribution of a field's values and the label; ``ratio = I / H(Y)`` is the share of the
label's entropy the field explains. How each field becomes discrete:

* categorical, text (the text index) and bucketised numeric fields: their indices directly;
* continuous numeric fields: quantile bins (``bins`` equal-frequency bins, ties merged);
* multi-categorical / sequence fields: ``multi="set"`` (default) treats the row's set of
  tokens (order and padding ignored) as one value -- the information the whole field carries
  about a row's label, comparable with the single-valued fields. ``multi="token"`` instead
  counts every (token, label) occurrence, i.e. how informative an individual genre/tag is;
  it is not a per-row quantity, so rows with many tokens weigh more;
* vector fields have no natural discretisation and are reported as skipped;
* a label with more than ``bins`` distinct values (ratings as floats) is quantile-binned too.

The plug-in estimate is biased upward for fields with many values (an id seen a few times
"explains" its rows); ``mi_corrected_bits`` subtracts the Miller-Madow bias
``(K_xy - K_x - K_y + 1) / (2 N ln 2)`` so ids and small fields can be compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from torch import Tensor

from recforge.core.errors import ConfigError

MULTI_MODES = ("set", "token")


def entropy_bits(codes: np.ndarray) -> float:
    """Shannon entropy of discrete codes, in bits."""
    _, counts = np.unique(codes, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def mutual_information(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Plug-in and Miller-Madow corrected mutual information of two discrete code arrays (bits)."""
    x = np.asarray(x).reshape(-1)
    y = np.asarray(y).reshape(-1)
    n = x.size
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    kx, ky = int(xi.max()) + 1, int(yi.max()) + 1
    joint_codes, joint_counts = np.unique(xi.astype(np.int64) * ky + yi, return_counts=True)
    px = np.bincount(xi, minlength=kx) / n
    py = np.bincount(yi, minlength=ky) / n
    pxy = joint_counts / n
    mi = float(np.sum(pxy * np.log2(pxy / (px[joint_codes // ky] * py[joint_codes % ky]))))
    bias = (joint_codes.size - kx - ky + 1) / (2.0 * n * math.log(2))
    return {"mi_bits": max(mi, 0.0), "mi_corrected_bits": max(mi - bias, 0.0), "values": kx}


def quantile_codes(values: np.ndarray, bins: int) -> np.ndarray:
    """Equal-frequency bin codes of continuous values (fewer bins when values tie)."""
    values = np.asarray(values, dtype=np.float64)
    if np.unique(values).size <= bins:
        return values
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right")


def row_set_codes(matrix: np.ndarray) -> np.ndarray:
    """One code per row for the set of non-padding tokens in the row (order ignored)."""
    rows = np.sort(np.where(matrix > 0, matrix, 0), axis=1)
    _, codes = np.unique(rows, axis=0, return_inverse=True)
    return codes.reshape(-1)


def _infer_kind(col: np.ndarray) -> str:
    if col.ndim == 1:
        return "numeric" if np.issubdtype(col.dtype, np.floating) else "categorical"
    return "vector" if np.issubdtype(col.dtype, np.floating) else "multi_categorical"


def information_gain(
    columns: Mapping[str, Tensor | np.ndarray],
    labels: Tensor | np.ndarray,
    *,
    kinds: Mapping[str, str] | None = None,
    bins: int = 10,
    multi: str = "set",
) -> dict[str, object]:
    """Mutual information of every field with the label, strongest first.

    Args:
        columns: field name -> tensor or array, one row per example (label excluded).
        labels: ``[N]`` targets.
        kinds: field kinds from the schema (inferred from dtype/shape when missing).
        bins: quantile bins for continuous numeric fields and many-valued labels.
        multi: ``set`` or ``token`` for multi-valued fields (see the module docstring).

    Returns:
        ``{"label_entropy_bits", "bins", "multi", "fields": {name: {"mi_bits",
        "mi_corrected_bits", "ratio", "values", "mode"}}, "skipped": {name: reason}}``.

    Example:
        >>> information_gain({"genre": g}, y)["fields"]["genre"]["mi_bits"]
    """
    if multi not in MULTI_MODES:
        raise ConfigError(f"unknown multi-valued mode '{multi}'", fix=f"use one of {', '.join(MULTI_MODES)}")
    if bins < 2:
        raise ConfigError(f"bins must be at least 2, got {bins}", fix="pass bins >= 2")
    y = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    y_codes = quantile_codes(y, bins) if np.issubdtype(y.dtype, np.floating) else y
    h_y = entropy_bits(y_codes)
    fields: dict[str, dict[str, object]] = {}
    skipped: dict[str, str] = {}
    for name, value in columns.items():
        col = value.detach().cpu().numpy() if isinstance(value, Tensor) else np.asarray(value)
        kind = (kinds or {}).get(name) or _infer_kind(col)
        if kind == "vector" or (col.ndim > 1 and np.issubdtype(col.dtype, np.floating)):
            skipped[name] = "vector field: no discrete values to count"
            continue
        if col.ndim > 1 and multi == "token":
            rows, _ = np.nonzero(col > 0)
            x, target, mode = col[col > 0], y_codes[rows], "token"
        elif col.ndim > 1:
            x, target, mode = row_set_codes(col), y_codes, "set"
        elif np.issubdtype(col.dtype, np.floating):
            x, target, mode = quantile_codes(col, bins), y_codes, "quantile"
        else:
            x, target, mode = col, y_codes, "value"
        if x.size == 0:
            skipped[name] = "no non-padding values"
            continue
        mi = mutual_information(x, target)
        fields[name] = {**mi, "ratio": mi["mi_bits"] / h_y if h_y > 0 else 0.0, "mode": mode}
    ordered = dict(sorted(fields.items(), key=lambda kv: -float(kv[1]["mi_bits"])))  # type: ignore[arg-type]
    return {"label_entropy_bits": h_y, "bins": bins, "multi": multi, "fields": ordered, "skipped": skipped}
