"""``vector``: a linear projection of precomputed vectors (image / audio embeddings)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from recforge.core.components import Encoder, SharedTables, param
from recforge.core.data.schema import FieldInfo
from recforge.core.errors import ConfigError, DataError
from recforge.plugins.encoders._common import batch_tensor, check_fields


class VectorEncoder(Encoder):
    """Projects a precomputed vector field ``[B, d]`` to the embedding dim (multimodal fusion).

    Args:
        dropout: dropout on the input vector during training (regularises big inputs).
        normalize: L2-normalise the input vector first (embeddings from another model often
            only carry meaning in their direction).

    Example:
        model:
          encoders:
            poster: {name: vector, params: {dropout: 0.1, normalize: true}}
    """

    name = "vector"
    field_kinds = ("vector",)

    @dataclass
    class Params:
        dropout: float = param(0.0, "dropout on the input vector during training")
        normalize: bool = param(False, "L2-normalise the input vector first")

    def __init__(self, fields: list[FieldInfo], dim: int, params: Params, tables: SharedTables) -> None:
        super().__init__()
        (self.field,) = check_fields(type(self), fields)[:1]
        if self.field.vector_dim <= 0:
            raise ConfigError(
                f"vector field '{self.field.name}' has no vector_dim",
                fix="fit the featuremap first, or declare `dim:` for the field in data.fields",
            )
        self.normalize = params.normalize
        self.dropout = nn.Dropout(params.dropout)
        self.proj = nn.Linear(self.field.vector_dim, dim)

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        x = batch_tensor(batch, self.field).float()
        if x.ndim != 2 or x.shape[1] != self.field.vector_dim:
            raise DataError(
                f"vector field '{self.field.name}' has shape {tuple(x.shape)}, expected "
                f"[batch, {self.field.vector_dim}]",
                fix="give every row a vector of the fitted length",
            )
        if self.normalize:
            x = torch.nn.functional.normalize(x, dim=-1)
        return self.proj(self.dropout(x)).unsqueeze(1)
