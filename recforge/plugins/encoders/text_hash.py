"""``text-hash``: hashed word and character n-grams of a text in an EmbeddingBag (fastText-like)."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from recforge.core.components import Encoder, SharedTables, param
from recforge.core.data.schema import FieldInfo
from recforge.plugins.encoders._common import batch_tensor, check_fields

_WORD = re.compile(r"\w+", re.UNICODE)


def text_ngrams(text: str, word_ngrams: int, char_min: int, char_max: int) -> list[str]:
    """The features of one text: word 1..n-grams and char n-grams of each ``<word>``."""
    words = _WORD.findall(text.lower())
    grams = []
    for n in range(1, word_ngrams + 1):
        grams += ["w:" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    if char_max > 0:
        for word in words:
            padded = f"<{word}>"
            for n in range(char_min, char_max + 1):
                grams += ["c:" + padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams


def hashed_bags(texts: list[str], buckets: int, word_ngrams: int, char_min: int, char_max: int) -> tuple[Tensor, Tensor, Tensor]:
    """Flat bucket ids, per-text start offsets and lengths (stable across processes: crc32)."""
    ids: list[int] = []
    starts, lengths = [], []
    for text in texts:
        grams = text_ngrams(text, word_ngrams, char_min, char_max)
        starts.append(len(ids))
        lengths.append(len(grams))
        ids += [zlib.crc32(g.encode("utf-8")) % buckets for g in grams]
    return (
        torch.tensor(ids, dtype=torch.long),
        torch.tensor(starts, dtype=torch.long),
        torch.tensor(lengths, dtype=torch.long),
    )


class TextHashEncoder(Encoder):
    """A fast text baseline without a language model: hashed n-grams into an EmbeddingBag.

    The n-gram ids of every distinct text are computed once when the encoder is built; a
    batch only gathers the bags of its text indices. Empty texts give the zero vector.

    Args:
        buckets: rows of the hashed n-gram table.
        word_ngrams: longest word n-gram (1 = single words).
        char_min: shortest character n-gram (within ``<word>``).
        char_max: longest character n-gram (0 = no character n-grams).
        pooling: ``mean`` or ``sum`` over a text's n-grams.

    Example:
        model:
          encoders:
            title: {name: text-hash, params: {buckets: 50000, word_ngrams: 2}}
    """

    name = "text-hash"
    field_kinds = ("text",)

    @dataclass
    class Params:
        buckets: int = param(100_000, "rows of the hashed n-gram table")
        word_ngrams: int = param(2, "longest word n-gram")
        char_min: int = param(3, "shortest character n-gram")
        char_max: int = param(5, "longest character n-gram (0 = none)")
        pooling: Literal["mean", "sum"] = param("mean", "pooling over a text's n-grams")

    def __init__(self, fields: list[FieldInfo], dim: int, params: Params, tables: SharedTables) -> None:
        super().__init__()
        (self.field,) = check_fields(type(self), fields)[:1]
        ids, starts, lengths = hashed_bags(
            list(self.field.texts), params.buckets, params.word_ngrams, params.char_min, params.char_max
        )
        # derived from field.texts, which the featuremap saves: not part of the weights
        self.register_buffer("ngram_ids", ids, persistent=False)
        self.register_buffer("starts", starts, persistent=False)
        self.register_buffer("lengths", lengths, persistent=False)
        self.bag = nn.EmbeddingBag(params.buckets, dim, mode=params.pooling)
        nn.init.normal_(self.bag.weight, std=0.01)

    def forward(self, batch: dict[str, Tensor], encoded: dict[str, Tensor]) -> Tensor:
        idx = batch_tensor(batch, self.field).long().clamp(0, len(self.starts) - 1)
        lengths = self.lengths[idx]
        starts = self.starts[idx]
        offsets = torch.cumsum(lengths, 0) - lengths
        total = int(lengths.sum())
        within = torch.arange(total, device=idx.device) - offsets.repeat_interleave(lengths)
        flat = self.ngram_ids[starts.repeat_interleave(lengths) + within]
        return self.bag(flat, offsets).unsqueeze(1)
