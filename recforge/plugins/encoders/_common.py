"""Helpers shared by the built-in encoders: field checks, table lookup and masked pooling."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from recforge.core.components import Encoder, SharedTables
from recforge.core.data.schema import PAD, FieldInfo
from recforge.core.errors import ConfigError, DataError
from recforge.core.fused_lookup import gather_rows  # noqa: F401 - re-exported for the encoders


def check_fields(encoder: type[Encoder], fields: Sequence[FieldInfo], count: int = 1) -> list[FieldInfo]:
    """Fail clearly when an encoder gets the wrong number or kind of fields."""
    fields = list(fields)
    if len(fields) < count:
        raise ConfigError(
            f"encoder '{encoder.name}' needs {count} field(s), got {len(fields)}",
            fix=f"give it a field of kind {' or '.join(encoder.field_kinds)}",
        )
    if fields[0].kind not in encoder.field_kinds:
        raise ConfigError(
            f"encoder '{encoder.name}' cannot encode field '{fields[0].name}' of kind "
            f"'{fields[0].kind}'",
            fix=f"use it on a {' or '.join(encoder.field_kinds)} field, or pick another encoder "
            "under model.encoders",
        )
    return fields


def require_vocab(encoder: type[Encoder], field: FieldInfo) -> None:
    """Embedding encoders need a fitted vocabulary of at least padding + unknown."""
    if field.vocab_size < 2:
        raise ConfigError(
            f"field '{field.name}' has vocab_size {field.vocab_size}, too small for encoder "
            f"'{encoder.name}'",
            fix="fit the featuremap on training data first (vocab_size counts padding and unknown)",
        )


def embedding_table(
    tables: SharedTables, field: FieldInfo, dim: int, share: bool, num_embeddings: int | None = None
) -> nn.Embedding:
    """The field's embedding table: shared through ``tables`` by vocabulary, or its own."""
    rows = num_embeddings if num_embeddings is not None else field.vocab_size
    key = (field.vocab_key or field.name) if share else f"{field.name}__own"
    if num_embeddings is not None and num_embeddings != field.vocab_size:
        key = f"{key}__{rows}"
    return tables.get(key, rows, dim)


def batch_tensor(batch: dict[str, Tensor], field: FieldInfo) -> Tensor:
    """The field's tensor in a batch, or a DataError naming the missing column."""
    try:
        return batch[field.name]
    except KeyError:
        raise DataError(
            f"batch has no column '{field.name}' (has: {', '.join(sorted(batch)) or 'none'})",
            fix="check the data config declares this field",
        ) from None


def masked_pool(x: Tensor, mask: Tensor, mode: str, zero_padded: bool = False) -> Tensor:
    """Pool ``x [B, L, D]`` over positions where ``mask [B, L]`` is True.

    ``mean`` and ``max`` of a row with no positions are 0 (not NaN / -inf), so an empty
    history or bag contributes nothing. ``zero_padded``: ``x`` is already 0 where the mask is
    False (rows gathered from a table's zero padding row 0, which never gets a gradient), so
    sum and mean skip the ``[B, L, D]`` mask multiply, forward and backward.
    """
    m = mask.unsqueeze(-1).to(x.dtype)
    if mode in ("sum", "mean"):
        total = x.sum(1) if zero_padded else (x * m).sum(1)
        return total if mode == "sum" else total / m.sum(1).clamp_min(1.0)
    if mode == "max":
        filled = x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
        return torch.where(mask.any(1, keepdim=True), filled, torch.zeros_like(filled))
    raise ConfigError(f"unknown pooling '{mode}'", fix="use mean, sum or max")


def padding_mask(indices: Tensor) -> Tensor:
    """True where an index is a real value (not padding)."""
    return indices != PAD
