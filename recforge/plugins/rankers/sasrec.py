"""SASRec: causal self-attention over a purchase / click history (Kang & McAuley, ICDM 2018)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from recforge.core.components import param
from recforge.core.errors import ConfigError
from recforge.plugins.rankers._features import EntityFeatures
from recforge.plugins.rankers._sequential import SequentialParams, SequentialRanker


def causal_mask(length: int, device: torch.device) -> Tensor:
    """``[L, L]`` boolean mask, True where position ``t`` may NOT attend (keys after ``t``)."""
    return torch.triu(torch.ones(length, length, dtype=torch.bool, device=device), diagonal=1)


class SASRec(SequentialRanker):
    """Self-attentive sequential recommendation.

    The history's item vectors plus learned position embeddings go through ``layers``
    transformer blocks whose attention is causal: position ``t`` attends to positions ``0..t``
    only, so during training every position predicts the item that follows it, and the
    output at the last position is the row's query. Items are scored by the dot product of the
    query with their vectors (the same vectors the history is made of).

    ``item_fields`` chooses the item representation: ``[item_id]`` (classic SASRec),
    ``[item_id, item_text]`` (id + text) or ``[item_text]`` (text only, UniSRec-style: items
    never seen in training are represented, and ranked, by their text).

    Args:
        layers / heads: transformer blocks and attention heads.
        dropout: dropout on the inputs and inside the blocks.
        loss: ``softmax`` (full softmax over the catalogue) or ``sampled`` (softmax over the
            positive and ``num_negatives`` uniform draws shared by the batch).
        num_negatives: sampled loss: negatives per batch.
        item_fields: item-role fields summed into the item vectors (empty = the item id).
        history_field: the history sequence field ('' = the one over the item vocabulary).

    Example:
        model:
          embedding_dim: 64
          ranker: {name: sasrec, params: {layers: 2, heads: 1, dropout: 0.2, loss: softmax}}
        eval: {protocol: rows, metrics: [recall@10, ndcg@10]}
    """

    name = "sasrec"

    @dataclass
    class Params(SequentialParams):
        layers: int = param(2, "transformer blocks")
        heads: int = param(1, "attention heads (must divide embedding_dim)")

    def __init__(self, num_users: int, num_items: int, params: SASRec.Params, user_field: str, item_field: str,
                 dim: int, features: EntityFeatures, history: str, max_len: int) -> None:
        super().__init__(num_users, num_items, params, user_field, item_field, dim, features, history, max_len)
        if params.layers < 1 or params.heads < 1 or dim % params.heads:
            raise ConfigError(f"sasrec needs layers >= 1 and heads dividing embedding_dim {dim}",
                              fix="e.g. layers: 2, heads: 1")
        self.positions = nn.Embedding(max(max_len, 1), dim)
        self.input_norm = nn.LayerNorm(dim)
        block = nn.TransformerEncoderLayer(dim, params.heads, dim_feedforward=dim, dropout=params.dropout,
                                           activation="gelu", batch_first=True)
        self.blocks = nn.TransformerEncoder(block, params.layers, enable_nested_tensor=False)

    def encode_sequence(self, x: Tensor, lengths: Tensor) -> Tensor:
        length = x.shape[1]
        pos = self.positions(torch.arange(length, device=x.device).clamp_max(self.positions.num_embeddings - 1))
        h = self.input_norm(x + pos)
        return self.blocks(h, mask=causal_mask(length, x.device), is_causal=True)
