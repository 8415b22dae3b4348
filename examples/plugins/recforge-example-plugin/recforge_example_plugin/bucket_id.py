"""``example-bucket-id``: a hashed categorical encoder, as a plugin example."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from recforge.core.components import Encoder, param
from recforge.core.errors import ConfigError

#: odd multiplier for multiplicative hashing (Knuth); spreads neighbouring indices apart
_MULTIPLIER = 2654435761


def bucket_of(index: Tensor, buckets: int) -> Tensor:
    """Bucket of each vocabulary index: 0 stays 0 (padding), others go to ``1..buckets-1``."""
    hashed = 1 + (index * _MULTIPLIER) % (buckets - 1)
    return torch.where(index == 0, torch.zeros_like(index), hashed)


class BucketIdEncoder(Encoder):
    """Hashes a categorical field's index into a small embedding table (the hashing trick).

    Useful for huge or open vocabularies: memory is ``buckets x D`` whatever the vocabulary
    size, at the price of collisions (indices in one bucket share a vector). Padding (index 0)
    keeps an all-zero vector.

    Args:
        fields: exactly one categorical field.
        dim: embedding dimension D.
        params: ``buckets``, the table size (>= 2, bucket 0 is padding).
        tables: unused (the hashed table is private to this encoder).

    Example:
        model:
          encoders:
            user_id: {name: example-bucket-id, params: {buckets: 1024}}
    """

    name = "example-bucket-id"
    version = "1"
    field_kinds = ("categorical",)

    @dataclass
    class Params:
        buckets: int = param(64, "number of hash buckets (embedding rows), bucket 0 is padding")

    def __init__(self, fields: list[Any], dim: int, params: Params, tables: Any = None) -> None:
        super().__init__()
        if len(fields) != 1:
            raise ConfigError(
                f"example-bucket-id encodes one field, got {len(fields)}", fix="give it a single categorical field"
            )
        if params.buckets < 2:
            raise ConfigError(
                f"example-bucket-id needs buckets >= 2, got {params.buckets}", fix="set params.buckets to 2 or more"
            )
        self.field = fields[0].name
        self.buckets = params.buckets
        self.embedding = nn.Embedding(params.buckets, dim, padding_idx=0)

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor] | None = None) -> Tensor:
        """``batch[field]``: int64 ``[B]`` -> ``[B, 1, D]``."""
        return self.embedding(bucket_of(batch[self.field].long(), self.buckets)).unsqueeze(1)
