"""Column tables and prediction functions: the only things the model-agnostic views touch.

Every model-agnostic analysis works on a *column table*: a ``dict[str, Tensor]`` whose tensors
share their first dimension (rows). A ``TensorTable`` is turned into one with
:func:`table_columns`. Shuffling a field means permuting that column's rows, so a ragged or
padded field (``[B, L]``) moves as a whole row and keeps its padding consistent.

Predictions come from a ``predict_fn(columns) -> np.ndarray [B]``; :func:`model_predict_fn`
adapts any model with ``predict(batch)``. Keeping the views on this narrow interface means
they work for composed models, standalone rankers and plain Python functions alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recforge.core.errors import DataError

Columns = dict[str, Tensor]
PredictFn = Callable[[Columns], np.ndarray]


def num_rows(columns: Mapping[str, Tensor]) -> int:
    """Rows of a column table; raises when the columns disagree (they must share rows)."""
    if not columns:
        raise DataError("the analysis got an empty column table", fix="pass at least one field column")
    sizes = {name: int(col.shape[0]) for name, col in columns.items()}
    distinct = set(sizes.values())
    if len(distinct) != 1:
        raise DataError(
            f"columns have different row counts {sizes}",
            fix="pass columns of equal first dimension (one row per example)",
        )
    return distinct.pop()


def table_columns(table: Any) -> Columns:
    """Columns of a ``TensorTable`` (or a plain dict of tensors) as a new dict.

    A table exposing ``columns`` (a dict of tensors) is used directly; otherwise every row is
    fetched once through ``table.batch(arange(num_rows))``, which applies the table's padding.
    """
    if isinstance(table, Mapping):
        cols = {str(k): v if isinstance(v, Tensor) else torch.as_tensor(np.asarray(v)) for k, v in table.items()}
    elif isinstance(getattr(table, "columns", None), Mapping):
        cols = dict(table.columns)
    elif hasattr(table, "batch") and hasattr(table, "num_rows"):
        cols = dict(table.batch(torch.arange(int(table.num_rows))))
    else:
        raise DataError(
            f"cannot read columns from a {type(table).__name__}",
            fix="pass a TensorTable or a dict of equal-length tensors",
        )
    num_rows(cols)
    return cols


def take(columns: Mapping[str, Tensor], index: Tensor) -> Columns:
    """Rows ``index`` of every column."""
    return {name: col[index] for name, col in columns.items()}


def permuted(columns: Mapping[str, Tensor], fields: Iterable[str], perm: Tensor) -> Columns:
    """A shallow copy with ``fields`` permuted by ``perm`` (one permutation for all of them).

    Using one permutation for a group keeps the group's joint distribution (e.g. an item id
    and its text stay paired) and only breaks its link to the label and to the other fields.
    """
    out = dict(columns)
    for name in fields:
        if name not in out:
            raise DataError(f"field '{name}' is not a column of the analysed data", fix=f"use one of {sorted(out)}")
        out[name] = out[name][perm]
    return out


def batched_predict(predict_fn: PredictFn, columns: Mapping[str, Tensor], batch_size: int = 8192) -> np.ndarray:
    """Predictions for every row, computed ``batch_size`` rows at a time, as float64 ``[N]``."""
    n = num_rows(columns)
    parts = []
    for start in range(0, n, batch_size):
        chunk = {name: col[start : start + batch_size] for name, col in columns.items()}
        out = np.asarray(predict_fn(chunk), dtype=np.float64).reshape(-1)
        if out.shape[0] != min(batch_size, n - start):
            raise DataError(
                f"predict_fn returned {out.shape[0]} scores for {min(batch_size, n - start)} rows",
                fix="return one score per row",
            )
        parts.append(out)
    return np.concatenate(parts) if parts else np.zeros(0)


def model_device(model: Any) -> torch.device:
    """The device of a module's first parameter (CPU for parameter-free models)."""
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError, TypeError):
        return torch.device("cpu")


def model_predict_fn(model: Any) -> PredictFn:
    """Adapt ``model.predict(batch) -> Tensor [B]`` to a numpy ``predict_fn`` (eval, no grad)."""
    if hasattr(model, "eval"):
        model.eval()
    device = model_device(model)
    predict = getattr(model, "predict", None) or model

    def predict_fn(batch: Columns) -> np.ndarray:
        with torch.no_grad():
            moved = {k: v.to(device) for k, v in batch.items()}
            return predict(moved).detach().float().cpu().numpy().reshape(-1)

    return predict_fn


def sample_index(n: int, size: int | None, seed: int) -> Tensor:
    """A reproducible random subset of ``size`` row indices (all rows, in order, when it fits)."""
    if size is None or size <= 0 or size >= n:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:size].sort().values
