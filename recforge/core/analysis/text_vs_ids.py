"""Text fields against id fields, on warm and on cold items.

Language-model text features are meant to carry items the id embeddings know nothing about.
This view measures it directly: rows are split by whether their item index was seen in the
training split (*warm*) or not (*cold*: unknown index or never trained), and on each part the
text group, the id group and the remaining side fields are shuffled as groups (one permutation
per group, see :mod:`.importance`). Expected picture for a healthy text model: ids dominate on
warm items, text takes over on cold ones (where the item id is the shared unknown index).

``text_share = text / (text + ids)`` summarises the balance (``None`` when both drops are
nil or negative). Parts whose labels hold one class, or with fewer than ``min_rows`` rows,
are reported with the reason instead of figures (AUC is undefined there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recforge.core.analysis.columns import take
from recforge.core.analysis.importance import permutation_importance
from recforge.core.analysis.scoring import Metric, get_metric
from recforge.core.data.schema import FIRST
from recforge.core.errors import DataError

TEXT_KINDS = ("text",)


def field_groups(
    fields: Mapping[str, Any], id_fields: Iterable[str | None], columns: Iterable[str]
) -> dict[str, list[str]]:
    """Split analysed columns into ``text`` (text-kind fields), ``ids`` and ``other``.

    Args:
        fields: field name -> FieldInfo (anything with ``kind``) or a kind string.
        id_fields: the user-id and item-id field names (``None`` entries are ignored).
        columns: the analysed column names.
    """
    ids = {f for f in id_fields if f}
    groups: dict[str, list[str]] = {"text": [], "ids": [], "other": []}
    for name in columns:
        info = fields.get(name)
        kind = info if isinstance(info, str) else getattr(info, "kind", None)
        group = "text" if kind in TEXT_KINDS else "ids" if name in ids else "other"
        groups[group].append(name)
    return groups


def warm_mask(items: Tensor, train_items: Tensor) -> Tensor:
    """Rows whose item index is a known value that occurs in the training split."""
    known = torch.unique(train_items[train_items >= FIRST])
    return torch.isin(items, known) & (items >= FIRST)


def text_vs_ids(
    predict_fn: Any,
    columns: Mapping[str, Tensor],
    labels: np.ndarray | Tensor,
    *,
    groups: Mapping[str, Sequence[str]],
    item_field: str,
    train_items: Tensor,
    repeats: int = 5,
    metric: str | Metric = "auc",
    seed: int = 0,
    min_rows: int = 50,
    batch_size: int = 8192,
) -> dict[str, Any]:
    """Group permutation importance of text / ids / other fields on warm and cold item rows.

    Args:
        predict_fn: ``columns -> np.ndarray [B]`` scores.
        columns: field name -> tensor (label excluded); must hold ``item_field``.
        labels: ``[N]`` targets.
        groups: from :func:`field_groups`; empty groups are left out.
        item_field: the item-id column deciding warm vs cold.
        train_items: item indices of the training split.
        repeats: permutations per group.
        metric: metric name (``auc`` by default).
        seed: permutation seed.
        min_rows: parts smaller than this are reported as skipped.
        batch_size: rows per prediction call.

    Returns:
        ``{"groups": {...}, "warm": part, "cold": part}``; a part is ``{"rows", "baseline",
        "text", "ids", "other", "text_share"}`` (Summary dicts) or ``{"rows", "skipped"}``.

    Example:
        >>> tv = text_vs_ids(fn, cols, y, groups=field_groups(fields, ["user_id", "item_id"], cols),
        ...                  item_field="item_id", train_items=train_cols["item_id"])
        >>> tv["cold"]["text_share"]
    """
    if item_field not in columns:
        raise DataError(f"item field '{item_field}' is not a column of the analysed data",
                        fix="analyse a split that carries the item id")
    y = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    warm = warm_mask(columns[item_field].cpu(), train_items.cpu())
    used = {k: list(v) for k, v in groups.items() if v}
    out: dict[str, Any] = {"groups": used}
    for part, mask in (("warm", warm), ("cold", ~warm)):
        index = torch.nonzero(mask).reshape(-1)
        part_y = y[index.numpy()]
        if index.numel() < min_rows:
            out[part] = {"rows": int(index.numel()), "skipped": f"fewer than {min_rows} rows"}
            continue
        if get_metric(metric).name == "auc" and np.unique(part_y > 0.5).size < 2:
            out[part] = {"rows": int(index.numel()), "skipped": "labels hold a single class"}
            continue
        imp = permutation_importance(predict_fn, take(columns, index), part_y, fields=[], groups=used,
                                     repeats=repeats, metric=metric, seed=seed, batch_size=batch_size)
        result: dict[str, Any] = {"rows": int(index.numel()), "baseline": imp["baseline"]}
        result.update(imp["groups"])  # type: ignore[arg-type]
        text = float(result["text"]["mean"]) if "text" in result else 0.0
        ids = float(result["ids"]["mean"]) if "ids" in result else 0.0
        pos = max(text, 0.0) + max(ids, 0.0)
        result["text_share"] = max(text, 0.0) / pos if pos > 0 else None
        out[part] = result
    return out
