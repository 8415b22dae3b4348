"""``categorical``: one embedding per vocabulary index, with id dropout for cold items.

A plain categorical encoder declares itself ``fusable``; model assembly then moves its table
into the one :class:`recforge.core.fused_lookup.FusedLookup` of the model (one lookup per step
for all such fields).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from recforge.core.components import Encoder, SharedTables, param
from recforge.core.data.schema import FIRST, UNK, FieldInfo
from recforge.core.fused_lookup import FusedLookup  # noqa: F401 - re-exported (older imports)
from recforge.plugins.encoders._common import (
    batch_tensor,
    check_fields,
    embedding_table,
    gather_rows,
    require_vocab,
)

#: multiplier of the hashing mode (a large odd constant spreads consecutive ids)
_HASH_MULT = 0x9E3779B1


def hash_indices(indices: Tensor, buckets: int) -> Tensor:
    """Fold vocabulary indices into ``buckets`` rows, keeping padding (0) and unknown (1)."""
    folded = (indices * _HASH_MULT) % (buckets - FIRST) + FIRST
    return torch.where(indices >= FIRST, folded, indices)


def drop_ids(indices: Tensor, rate: float) -> Tensor:
    """Replace known indices by the unknown index with probability ``rate`` (DropoutNet).

    Training on some rows whose id is hidden teaches the model to score an item from its
    other features (text, genres), which is exactly what it has to do for a cold item.
    """
    if rate <= 0.0:
        return indices
    drop = (torch.rand(indices.shape, device=indices.device) < rate) & (indices >= FIRST)
    return indices.masked_fill(drop, UNK)


class CategoricalEncoder(Encoder):
    """Embedding table lookup for a categorical field (user id, item id, gender, ...).

    Fields with the same vocabulary (``vocab_key``, e.g. a history using ``item_id``'s
    vocabulary) share one table. Index 0 (padding) is a zero vector; index 1 (unknown) is a
    learned vector that unseen values and, with ``id_dropout``, randomly hidden ids map to.

    Args:
        id_dropout: probability, during training only, of replacing a known index by the
            unknown index 1 (the DropoutNet idea: helps cold items a lot).
        hash_buckets: fold the vocabulary into this many rows (0 = one row per value).
        share: share the table with fields of the same vocabulary.

    Example:
        model:
          encoders:
            item_id: {name: categorical, params: {id_dropout: 0.3}}
    """

    name = "categorical"
    field_kinds = ("categorical",)

    @dataclass
    class Params:
        id_dropout: float = param(0.0, "training-only probability of replacing an id by unknown")
        hash_buckets: int = param(0, "fold the vocabulary into this many rows (0 = off)")
        share: bool = param(True, "share the table with fields of the same vocabulary")

    def __init__(self, fields: list[FieldInfo], dim: int, params: Params, tables: SharedTables) -> None:
        super().__init__()
        (self.field,) = check_fields(type(self), fields)[:1]
        require_vocab(type(self), self.field)
        self.params = params
        rows = None
        if params.hash_buckets:
            rows = min(params.hash_buckets, self.field.vocab_size)
        self.buckets = rows or 0
        self.table = embedding_table(tables, self.field, dim, params.share, rows)

    def indices(self, batch: dict[str, Tensor]) -> Tensor:
        """The (hashed, id-dropped when training) indices this encoder looks up."""
        idx = batch_tensor(batch, self.field).long()
        if self.buckets and self.buckets < self.field.vocab_size:
            idx = hash_indices(idx, self.buckets)
        if self.training:
            idx = drop_ids(idx, self.params.id_dropout)
        return idx

    @property
    def fusable(self) -> bool:
        """True when a plain lookup is all this encoder does (no hashing, no id dropout)."""
        return type(self) is CategoricalEncoder and not self.buckets and self.params.id_dropout <= 0.0

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        return gather_rows(self.table, self.indices(batch)).unsqueeze(1)
