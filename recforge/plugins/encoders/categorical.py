"""``categorical``: one embedding per vocabulary index, with id dropout for cold items.

:class:`FusedLookup` is the fast path model assembly uses for plain categorical fields.

A composed model with F categorical fields used to run F ``nn.Embedding`` lookups, F
embedding backwards and a stack/cat of F ``[B, 1, D]`` vectors per step. :class:`FusedLookup`
holds the rows of all those tables in one ``nn.Embedding`` and maps a ``[B, F]`` index matrix
to ``[B, F, D]`` with one ``F.embedding``.

Row layout: row 0 is the one shared padding row (``padding_idx=0``: always zero, never
updated, exactly like each field's own padding row before), then field ``f``'s rows for its
indices ``1 .. V_f - 1`` (unknown first). A field index ``i > 0`` lands at ``i + base_f``;
index 0 (padding) lands at row 0. The initial rows are copied from the per-field tables, so
a fused model computes bit-for-bit what the unfused one would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from recforge.core.components import Encoder, SharedTables, param
from recforge.core.data.schema import FIRST, PAD, UNK, FieldInfo
from recforge.core.errors import DataError
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


class FusedLookup(nn.Module):
    """``[B, F]`` indices of several categorical fields -> ``[B, F, D]`` in one lookup.

    Args:
        names: the fields, in the order of the output's slot axis.
        tables: each field's own (freshly initialised) table; their rows are copied in.

    Example:
        fused = FusedLookup(["user_id", "gender"], [user_table, gender_table])
        vectors = fused(batch)  # [B, 2, D]
    """

    def __init__(self, names: Sequence[str], tables: Sequence[nn.Embedding]) -> None:
        super().__init__()
        self.names = list(names)
        sizes = [t.num_embeddings for t in tables]
        dim = tables[0].embedding_dim
        starts = torch.tensor([1 + sum(s - 1 for s in sizes[:j]) for j in range(len(sizes))])
        self.register_buffer("base", starts - 1, persistent=False)
        self.register_buffer("sizes", torch.tensor(sizes), persistent=False)
        rows = [torch.zeros(1, dim)] + [t.weight.detach()[1:] for t in tables]
        self.table = nn.Embedding(1 + sum(s - 1 for s in sizes), dim, padding_idx=PAD)
        with torch.no_grad():
            self.table.weight.copy_(torch.cat(rows))

    def forward(self, batch: dict[str, Tensor], names: Sequence[str] | None = None) -> Tensor:
        """``[B, len(names), D]`` vectors of ``names`` (default: every fused field, in order)."""
        names = self.names if names is None else list(names)
        base = self.base if names == self.names else self.base[[self.names.index(n) for n in names]]
        try:
            idx = torch.stack([batch[name] for name in names], dim=1).long()
        except KeyError as err:
            raise DataError(f"batch has no column {err} (has: {', '.join(sorted(batch)) or 'none'})",
                            fix="check the data config declares this field") from None
        rows = (idx + base) * (idx != PAD)  # padding -> the shared zero row 0
        return gather_rows(self.table, rows)

    def field_weight(self, name: str) -> Tensor:
        """Field ``name``'s table as it would be unfused (``[V, D]``, padding row 0 first)."""
        j = self.names.index(name)
        start, size = int(self.base[j]) + 1, int(self.sizes[j])
        return torch.cat([self.table.weight[:1], self.table.weight[start:start + size - 1]])
