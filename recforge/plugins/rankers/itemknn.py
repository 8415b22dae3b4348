"""ItemKNN: collaborative filtering by item-item cosine similarity (no gradient training)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from recforge.core.components import param
from recforge.core.errors import ConfigError
from recforge.core.data.interactions import id_fields, interaction_csr
from recforge.plugins.rankers._base import StandaloneRanker, has_training_data


class ItemKNN(StandaloneRanker):
    """Item-based collaborative filtering (Sarwar et al. 2001; the classic CF baseline).

    ``sim(i, j) = |U_i & U_j| / (sqrt(|U_i|) sqrt(|U_j|) + shrink)`` over the users who
    interacted with each item in the training split; each item keeps its ``k`` most similar
    neighbours. A user's score for item ``j`` is the sum of ``sim(i, j)`` over the items ``i``
    in their training history. ``fit(prepared)`` computes everything; nothing is trained.

    Args:
        k: neighbours kept per item (RecBole default 100).
        shrink: added to the cosine denominator to damp similarities of rare items.

    Example:
        model:
          ranker: {name: itemknn, params: {k: 100, shrink: 0.0}}
    """

    name = "itemknn"
    model_keys = frozenset()  # item-item similarities: no embeddings, nothing trained
    task = "retrieval"
    trainable: ClassVar[bool] = False

    @dataclass
    class Params:
        k: int = param(100, "neighbours kept per item")
        shrink: float = param(0.0, "added to the cosine denominator")

    def __init__(self, num_users: int, num_items: int, params: ItemKNN.Params, user_field: str = "user_id",
                 item_field: str = "item_id", dim: int = 0) -> None:
        super().__init__(num_users, num_items, user_field, item_field)
        if params.k < 1:
            raise ConfigError(f"itemknn k must be >= 1, got {params.k}", fix="set ranker params k to e.g. 100")
        self.params = params
        self.register_buffer("similarity", torch.zeros(self.num_items, self.num_items))
        self.register_buffer("history", torch.zeros(self.num_users, self.num_items))

    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Any) -> ItemKNN:
        user, item, n_users, n_items = id_fields(prepared)
        model = cls(n_users, n_items, params, user, item)
        if has_training_data(prepared):  # else: a saved model, state comes with the weights
            model.fit(prepared)
        return model

    def fit(self, prepared: Any) -> None:
        """Similarities and user histories from the training split."""
        train = interaction_csr(prepared, "train")
        self.history.copy_(torch.from_numpy(train.toarray()))
        co = torch.from_numpy((train.T @ train).toarray()).float()
        norms = co.diagonal().sqrt()
        sim = co / (norms.unsqueeze(1) * norms.unsqueeze(0) + self.params.shrink).clamp_min(1e-12)
        sim.fill_diagonal_(0.0)
        k = min(self.params.k, self.num_items)
        keep = torch.zeros_like(sim, dtype=torch.bool)
        keep.scatter_(0, torch.topk(sim, k, dim=0).indices, True)  # top-k neighbours i of each item j
        self.similarity.copy_(sim * keep)

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError("itemknn is fitted, not trained: call fit(prepared)")

    def score_items(self, users: Tensor, items: Tensor | None = None) -> Tensor:
        sim = self.similarity if items is None else self.similarity[:, items]
        return self.history[users] @ sim

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        return (self.history[users] * self.similarity[:, items].T).sum(-1)

    def item_vectors(self) -> Tensor:
        """Each item's similarity row: items with similar neighbourhoods are close."""
        return self.similarity

