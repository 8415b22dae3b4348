"""``numeric``: a continuous value as a scaled learned vector, or as a bucket embedding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from recforge.core.components import Encoder, SharedTables, param
from recforge.core.data.schema import FieldInfo
from recforge.core.errors import ConfigError
from recforge.plugins.encoders._common import batch_tensor, check_fields


class NumericEncoder(Encoder):
    """Encodes a numeric field as ``value * w + b`` (linear) or as a bucket's embedding.

    ``auto`` uses buckets when the data layer bucketised the field (``num_buckets > 0``; the
    batch then holds int64 bucket indices) and the linear form otherwise. ``bucket`` on a
    continuous field cuts it at ``boundaries``. Missing values (NaN) count as 0.

    Args:
        mode: ``auto``, ``linear`` or ``bucket``.
        boundaries: sorted cut points for ``bucket`` mode on a continuous field.

    Example:
        model:
          encoders:
            age: {name: numeric, params: {mode: bucket, boundaries: [18, 25, 35, 50]}}
    """

    name = "numeric"
    field_kinds = ("numeric",)

    @dataclass
    class Params:
        mode: Literal["auto", "linear", "bucket"] = param("auto", "linear, bucket, or auto")
        boundaries: list[float] = param([], "cut points for bucket mode on continuous values")

    def __init__(self, fields: list[FieldInfo], dim: int, params: Params, tables: SharedTables) -> None:
        super().__init__()
        (self.field,) = check_fields(type(self), fields)[:1]
        mode = params.mode
        if mode == "auto":
            mode = "bucket" if self.field.num_buckets > 0 else "linear"
        self.mode = mode
        self.weight = nn.Parameter(torch.empty(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        nn.init.normal_(self.weight, std=0.01)
        bounds = sorted(float(b) for b in params.boundaries)
        self.register_buffer("boundaries", torch.tensor(bounds, dtype=torch.float32), persistent=False)
        if mode == "bucket":
            if self.field.num_buckets <= 0 and not bounds:
                raise ConfigError(
                    f"numeric field '{self.field.name}' is continuous, so bucket mode needs cut points",
                    fix="set params.boundaries, or bucketise the field with `buckets:` in data.fields",
                )
            rows = self.field.num_buckets if self.field.num_buckets > 0 else len(bounds) + 1
            self.buckets = nn.Embedding(rows, dim)
            nn.init.normal_(self.buckets.weight, std=0.01)

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        x = batch_tensor(batch, self.field)
        if self.mode == "linear":
            value = torch.nan_to_num(x.float(), nan=0.0).unsqueeze(-1)
            return (value * self.weight + self.bias).unsqueeze(1)
        if x.is_floating_point():
            if self.field.num_buckets > 0 and not len(self.boundaries):
                idx = torch.nan_to_num(x, nan=0.0).long()
            else:
                idx = torch.bucketize(torch.nan_to_num(x, nan=0.0).contiguous(), self.boundaries)
        else:
            idx = x.long()
        idx = idx.clamp(0, self.buckets.num_embeddings - 1)
        return self.buckets(idx).unsqueeze(1)
