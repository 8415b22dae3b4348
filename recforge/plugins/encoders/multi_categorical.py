"""``multi_categorical``: a bag of values (genres, tags) pooled by mean, sum or max."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor

from recforge.core.components import Encoder, SharedTables, param
from recforge.core.data.schema import FieldInfo
from recforge.plugins.encoders._common import (
    batch_tensor,
    check_fields,
    embedding_table,
    gather_rows,
    masked_pool,
    padding_mask,
    require_vocab,
)


class MultiCategoricalEncoder(Encoder):
    """EmbeddingBag-style pooling of a multi-valued field, padding ignored.

    The batch holds ``[B, L]`` indices padded with 0; the encoder looks them up and pools the
    non-padding positions in one vectorised step. A row with no values (all padding) is the
    zero vector for every mode.

    Args:
        pooling: ``mean``, ``sum`` or ``max``.
        share: share the table with fields of the same vocabulary.

    Example:
        model:
          encoders:
            genres: {name: multi_categorical, params: {pooling: mean}}
    """

    name = "multi_categorical"
    field_kinds = ("multi_categorical", "sequence")

    @dataclass
    class Params:
        pooling: Literal["mean", "sum", "max"] = param("mean", "how to pool the values of a row")
        share: bool = param(True, "share the table with fields of the same vocabulary")

    def __init__(self, fields: list[FieldInfo], dim: int, params: Params, tables: SharedTables) -> None:
        super().__init__()
        (self.field,) = check_fields(type(self), fields)[:1]
        require_vocab(type(self), self.field)
        self.pooling = params.pooling
        self.table = embedding_table(tables, self.field, dim, params.share)

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        idx = batch_tensor(batch, self.field).long()
        if idx.ndim == 1:
            idx = idx.unsqueeze(1)
        rows = gather_rows(self.table, idx)
        return masked_pool(rows, padding_mask(idx), self.pooling, zero_padded=True).unsqueeze(1)
