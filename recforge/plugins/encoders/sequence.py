"""``sequence``: a behaviour history pooled by mean (or sum / max) or by target attention."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor

from recforge.core.components import Encoder, SharedTables, param
from recforge.core.data.schema import FieldInfo
from recforge.core.errors import ConfigError
from recforge.plugins.encoders._common import (
    batch_tensor,
    check_fields,
    embedding_table,
    gather_rows,
    masked_pool,
    padding_mask,
    require_vocab,
)
from recforge.plugins.encoders.attention import TargetAttention, target_vector


class SequenceEncoder(Encoder):
    """Encodes an ordered history (e.g. clicked items) as one vector.

    With ``pooling: attention`` the history is weighted by its relevance to the candidate
    (DIN): ``target`` names the field whose vector is the query (e.g. ``item_id``). When the
    history's vocabulary is the target's (``vocab_from: item_id`` in the data config) both use
    one embedding table, so a clicked item and a candidate item have the same vector.

    Args:
        pooling: ``mean``, ``sum``, ``max`` or ``attention``.
        target: field to attend to in attention mode (its vectors are encoded first).
        attention_hidden: width of the attention scoring MLP.
        share: share the table with fields of the same vocabulary.

    Example:
        model:
          encoders:
            history: {name: sequence, params: {pooling: attention, target: item_id}}
    """

    name = "sequence"
    field_kinds = ("sequence", "multi_categorical")

    @dataclass
    class Params:
        pooling: Literal["mean", "sum", "max", "attention"] = param("mean", "how to pool the history")
        target: str = param("", "attention mode: the field to attend to (e.g. item_id)")
        attention_hidden: int = param(36, "width of the attention scoring MLP")
        share: bool = param(True, "share the table with fields of the same vocabulary")

    def __init__(self, fields: list[FieldInfo], dim: int, params: Params, tables: SharedTables) -> None:
        super().__init__()
        (self.field,) = check_fields(type(self), fields)[:1]
        require_vocab(type(self), self.field)
        self.params = params
        self.table = embedding_table(tables, self.field, dim, params.share)
        if params.pooling == "attention":
            if not params.target:
                raise ConfigError(
                    f"sequence field '{self.field.name}' uses attention pooling without a target",
                    fix="set params.target to the candidate field, e.g. item_id",
                )
            self.depends_on = (params.target,)
            self.attention = TargetAttention(dim, params.attention_hidden)

    def _keys(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        idx = batch_tensor(batch, self.field).long()
        return gather_rows(self.table, idx), padding_mask(idx)

    def attention_weights(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        """Attention weights ``[B, L]`` over the history (attention mode only)."""
        keys, mask = self._keys(batch)
        return self.attention.weights(target_vector(encoded, self.params.target, self.field.name), keys, mask)

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        keys, mask = self._keys(batch)
        if self.params.pooling == "attention":
            query = target_vector(encoded, self.params.target, self.field.name)
            return self.attention(query, keys, mask).unsqueeze(1)
        return masked_pool(keys, mask, self.params.pooling, zero_padded=True).unsqueeze(1)
