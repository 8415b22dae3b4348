"""Sampled softmax retrieval: in-batch negatives with logQ correction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recforge.core.components import param
from recforge.core.model_api import neg_key
from recforge.core.data.interactions import id_fields, interaction_csr
from recforge.plugins.rankers._base import EmbeddingRanker, embedding_dim, has_training_data
from recforge.plugins.rankers._losses import sampled_softmax_loss


def item_log_frequency(prepared: Any, num_items: int) -> Tensor:
    """``log q(item)``: log share of training interactions per item (unseen items get one count)."""
    counts = np.asarray(interaction_csr(prepared, "train").sum(axis=0)).reshape(-1)[:num_items]
    counts = np.maximum(counts, 1.0)
    return torch.from_numpy(np.log(counts / counts.sum())).float()


class SampledSoftmax(EmbeddingRanker):
    """User and item embeddings trained with a softmax over the batch's items (retrieval).

    Every other row's positive item serves as a negative; since popular items show up as
    in-batch negatives in proportion to their frequency, each logit subtracts ``log q(item)``
    (logQ correction, Yi et al. 2019). Sampled negatives from the data layer
    (``neg_<item_field>``) are added to the softmax when present.

    Args:
        temperature: logits are ``u . v / temperature``.
        logq_correction: subtract the item's log training frequency from its logit.
        use_sampled_negatives: also put the batch's sampled negatives in the softmax.

    Example:
        model:
          embedding_dim: 64
          ranker: {name: softmax, params: {temperature: 0.1, logq_correction: true}}
    """

    name = "softmax"
    task = "retrieval"

    @dataclass
    class Params:
        temperature: float = param(0.1, "softmax temperature")
        logq_correction: bool = param(True, "subtract log item frequency from each logit")
        use_sampled_negatives: bool = param(True, "add neg_<item> columns to the softmax when present")

    def __init__(self, num_users: int, num_items: int, params: SampledSoftmax.Params, user_field: str = "user_id",
                 item_field: str = "item_id", dim: int = 64, log_q: Tensor | None = None) -> None:
        super().__init__(num_users, num_items, dim, user_field, item_field)
        self.params = params
        self.register_buffer("log_q", log_q if log_q is not None else torch.full((self.num_items,), -float(np.log(max(self.num_items, 1)))))

    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Any) -> SampledSoftmax:
        user, item, n_users, n_items = id_fields(prepared)
        model = cls(n_users, n_items, params, user, item, embedding_dim(model_cfg),
                    item_log_frequency(prepared, n_items) if has_training_data(prepared) else None)
        model.set_train_positives(prepared)
        return model

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        u_all, i_all = self.all_vectors()
        users, items = self.users_of(batch), self.items_of(batch)
        negs = self.negatives_of(batch) if self.params.use_sampled_negatives and neg_key(self.item_field) in batch else None
        return sampled_softmax_loss(
            u_all[users], i_all[items], items,
            log_q=self.log_q if self.params.logq_correction else None,
            temperature=self.params.temperature,
            neg_vecs=i_all[negs] if negs is not None else None,
            neg_ids=negs,
        )
