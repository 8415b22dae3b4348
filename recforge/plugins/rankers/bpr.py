"""BPR: matrix factorisation trained with the Bayesian personalised ranking loss."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from recforge.core.components import param
from recforge.plugins.rankers._base import EmbeddingRanker
from recforge.plugins.rankers._losses import bpr_loss


class BPR(EmbeddingRanker):
    """Matrix factorisation trained on (user, positive, sampled negative) triples with BPR.

    The score of a pair is the dot product of the user and item embeddings; the loss is
    ``mean(-log sigmoid(s(u, i+) - s(u, i-)))`` over the batch's sampled negatives
    (``neg_<item_field>`` from the data layer's sampler). Top-K over the whole catalogue is one
    matrix product.

    Args:
        reg_weight: L2 penalty on the batch's user, positive and negative embeddings, divided
            by the batch size (0 = none; RecBole's BPR uses none).

    Example:
        model:
          embedding_dim: 64
          ranker: {name: bpr, params: {reg_weight: 0.0}}
    """

    name = "bpr"
    task = "pairwise"

    @dataclass
    class Params:
        reg_weight: float = param(0.0, "L2 penalty on the batch embeddings (per example)")

    def __init__(self, num_users: int, num_items: int, params: BPR.Params, user_field: str = "user_id",
                 item_field: str = "item_id", dim: int = 64) -> None:
        super().__init__(num_users, num_items, dim, user_field, item_field)
        self.params = params

    def loss(self, scores: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """BPR loss of ``scores [B, 1 + n]`` whose first column is the positive."""
        return bpr_loss(scores[:, 0], scores[:, 1:])

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        pos, neg, u, p, n = self.pairwise_scores(batch)
        loss = bpr_loss(pos, neg)
        if self.params.reg_weight > 0:
            reg = (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / u.shape[0]
            loss = loss + self.params.reg_weight * reg
        return loss
