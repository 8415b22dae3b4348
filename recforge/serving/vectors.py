"""User and item vectors of embedding models, so top-K is a (possibly approximate) inner product.

Two-tower, MF, BPR and LightGCN score a (user, item) pair by a dot product of two vectors
(MF adds biases, folded into one extra dimension each side). :func:`retrieval_of` returns a
:class:`Retrieval` for those models and None for the others (composed CTR models, item-KNN,
content), which are scored exactly by ``score_items``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from recforge.plugins.rankers._base import EmbeddingRanker
from recforge.plugins.rankers.mf import MatrixFactorization
from recforge.plugins.rankers.two_tower import TwoTower


@dataclass
class Retrieval:
    """How an embedding model's scores factor into user and item vectors.

    Attributes:
        users: user indices ``[U]`` -> ``[U, d]``.
        items: item indices ``[I]`` -> ``[I, d]`` (indices past the trained vocabulary are
            live-catalogue items; only models that encode items from features support them).
        output: raw inner products -> the model's scores (MF's sigmoid for CTR).
        rows: a batch of user-role columns (a user never seen in training) -> ``[B, d]``.
        encodes_new_items: whether items past the trained vocabulary have vectors.
    """

    users: Callable[[Tensor], Tensor]
    items: Callable[[Tensor], Tensor]
    output: Callable[[Tensor], Tensor]
    rows: Callable[[dict[str, Tensor]], Tensor] | None
    encodes_new_items: bool


def _identity(x: Tensor) -> Tensor:
    return x


def _two_tower(model: TwoTower) -> Retrieval:
    return Retrieval(lambda u: model.embed("user", u), lambda i: model.embed("item", i), _identity,
                     model.embed_rows, True)


def _mf(model: MatrixFactorization) -> Retrieval:
    """``<p_u, q_i> + mu + b_u + b_i`` as ``<[p_u, 1, mu + b_u], [q_i, b_i, 1]>``."""

    def users(u: Tensor) -> Tensor:
        vec = model._vectors("user", u)
        if not model.params.use_bias:
            return vec
        ones = torch.ones(u.shape[0], 1, device=vec.device)
        return torch.cat([vec, ones, model.global_bias + model.user_bias(u)], dim=1)

    def items(i: Tensor) -> Tensor:
        vec = model._vectors("item", i)
        if not model.params.use_bias:
            return vec
        return torch.cat([vec, model.item_bias(i), torch.ones(i.shape[0], 1, device=vec.device)], dim=1)

    return Retrieval(users, items, model.output, None, False)


def _embedding(model: EmbeddingRanker) -> Retrieval:
    with torch.no_grad():  # LightGCN propagates over the graph here: once, not per request
        user_mat, item_mat = (t.detach() for t in model.all_vectors())
    return Retrieval(lambda u: user_mat[u], lambda i: item_mat[i], _identity, None, False)


def retrieval_of(model: object) -> Retrieval | None:
    """The vector factorisation of ``model``'s scores, or None when it has none."""
    if isinstance(model, TwoTower):
        return _two_tower(model)
    if isinstance(model, MatrixFactorization):
        return _mf(model)
    if isinstance(model, EmbeddingRanker):
        return _embedding(model)
    return None
