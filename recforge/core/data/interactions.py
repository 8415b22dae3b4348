"""Interaction views of prepared data: the id fields, one column, the user x item matrix.

Data helpers shared by the rankers (graphs, negatives, neighbours) and the ranking
evaluation; they live in the data layer so rankers need not import evaluation code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from scipy import sparse
from torch import Tensor

from recforge.core.errors import ConfigError, DataError, unknown_name

if TYPE_CHECKING:
    from recforge.core.data.prepare import PreparedData
    from recforge.core.saved_model import SavedData


def column(table: Any, name: str) -> Tensor:
    """One dense column of a TensorTable (gathering all rows when it only offers ``batch``)."""
    dense = getattr(table, "dense", None)
    if isinstance(dense, dict) and name in dense:
        return dense[name]
    if name not in getattr(table, "columns", [name]):
        raise DataError(f"the split has no column '{name}'", fix="declare the field in data.fields")
    return table.batch(torch.arange(table.num_rows))[name]


def id_fields(prepared: PreparedData | SavedData) -> tuple[str, str, int, int]:
    """``(user_field, item_field, user_vocab, item_vocab)`` of prepared data, or a clear error."""
    user, item = prepared.user_field, prepared.item_field
    if not user or not item:
        raise ConfigError(
            "ranking needs a user-id and an item-id field",
            fix="declare them in data.fields with role: user and role: item",
        )
    return user, item, int(prepared.fields[user].vocab_size), int(prepared.fields[item].vocab_size)


def interaction_csr(prepared: PreparedData | SavedData, splits: str | Sequence[str], positive_only: bool = False) -> sparse.csr_matrix:
    """Binary user x item matrix (vocabulary indices) of the interactions in ``splits``.

    Args:
        prepared: a ``PreparedData`` (or a saved model's ``SavedData``).
        splits: one split name or several (their interactions are united).
        positive_only: keep only rows whose label is positive (ground truth of labelled data).
    """
    user, item, n_users, n_items = id_fields(prepared)
    names = [splits] if isinstance(splits, str) else list(splits)
    rows, cols = [], []
    for name in names:
        if name not in prepared.splits:
            raise unknown_name("split", name, prepared.splits, fix="use one of the prepared splits")
        table = prepared.splits[name]
        u, i = column(table, user).long(), column(table, item).long()
        label = prepared.label
        if positive_only and label and label in getattr(table, "columns", []):
            keep = column(table, label) > 0
            u, i = u[keep], i[keep]
        rows.append(u.numpy())
        cols.append(i.numpy())
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    mat = sparse.csr_matrix((np.ones(r.size, dtype=np.float32), (r, c)), shape=(n_users, n_items))
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat
