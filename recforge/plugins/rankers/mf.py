"""Matrix factorisation for ratings or clicks, with optional side and text features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recforge.core.components import param
from recforge.core.errors import DataError
from recforge.core.data.interactions import column, id_fields
from recforge.plugins.rankers._base import StandaloneRanker, embedding_dim, has_training_data
from recforge.plugins.rankers._features import EntityFeatures


class MatrixFactorization(StandaloneRanker):
    """Biased matrix factorisation: ``mu + b_u + b_i + <p_u + s_u, q_i + s_i>``.

    ``p_u`` / ``q_i`` are id embeddings; ``s_u`` / ``s_i`` are the sums of the side-feature
    vectors of the user's / item's other fields (``side_fields``: e.g. occupation, genres, or a
    text field whose language-model vectors are projected by its encoder), which lets items
    with few ratings borrow strength from their content. ``objective: rating`` regresses the
    label with MSE (predictions are ratings); ``ctr`` trains the logit with binary
    cross-entropy (predictions are probabilities).

    Args:
        objective: ``rating`` (MSE) or ``ctr`` (sigmoid + BCE).
        side_fields: user- or item-role fields added to the id vectors.
        use_bias: learn the global, user and item biases.

    Example:
        model:
          embedding_dim: 32
          ranker: {name: mf, params: {objective: rating, side_fields: [genres, item_text]}}
    """

    name = "mf"
    model_keys = frozenset({"embedding_dim", "embedding_regularizer", "net_regularizer", "encoders"})
    task = "rating"

    @dataclass
    class Params:
        objective: Literal["rating", "ctr"] = param("rating", "rating (MSE) or ctr (sigmoid + BCE)")
        side_fields: list[str] = param([], "user/item fields whose vectors are added to the id vectors")  # noqa: RUF009
        use_bias: bool = param(True, "learn global, user and item biases")

    def __init__(self, num_users: int, num_items: int, params: MatrixFactorization.Params, user_field: str = "user_id",
                 item_field: str = "item_id", dim: int = 64, side: EntityFeatures | None = None,
                 label_field: str = "label", global_mean: float = 0.0) -> None:
        super().__init__(num_users, num_items, user_field, item_field)
        self.params = params
        self.task = "rating" if params.objective == "rating" else "pointwise"  # type: ignore[misc]
        self.label_field = label_field
        self.user_embedding = nn.Embedding(self.num_users, dim, padding_idx=0)
        self.item_embedding = nn.Embedding(self.num_items, dim, padding_idx=0)
        for table in (self.user_embedding, self.item_embedding):
            nn.init.normal_(table.weight, std=0.01)
        if params.use_bias:  # only created when used: every parameter gets a gradient
            self.user_bias = nn.Embedding(self.num_users, 1, padding_idx=0)
            self.item_bias = nn.Embedding(self.num_items, 1, padding_idx=0)
            self.global_bias = nn.Parameter(torch.tensor(float(global_mean)))
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)
        self.side = side or EntityFeatures({}, {}, {})

    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Any) -> MatrixFactorization:
        user, item, n_users, n_items = id_fields(prepared)
        dim = embedding_dim(model_cfg)
        side = EntityFeatures.from_prepared(prepared, list(params.side_fields), model_cfg, dim)
        label = getattr(prepared, "label", None) or "label"
        mean = 0.0
        if params.objective == "rating" and has_training_data(prepared):
            mean = float(column(prepared.splits["train"], label).float().mean())
        return cls(n_users, n_items, params, user, item, dim, side, label, mean)

    def _vectors(self, role: str, ids: Tensor) -> Tensor:
        table = self.user_embedding if role == "user" else self.item_embedding
        vec = table(ids)
        extra = self.side.encode(role, ids)
        return vec if extra is None else vec + extra.sum(1)

    def _biases(self, users: Tensor, items: Tensor) -> Tensor:
        if not self.params.use_bias:
            return torch.zeros(users.shape[0], items.shape[0], device=users.device)
        return self.global_bias + self.user_bias(users) + self.item_bias(items).view(1, -1)

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        """Raw scores (ratings, or logits for ctr) of ``(users[b], items[b])``."""
        raw = (self._vectors("user", users) * self._vectors("item", items)).sum(-1)
        if self.params.use_bias:
            raw = raw + self.global_bias + self.user_bias(users).view(-1) + self.item_bias(items).view(-1)
        return raw

    def output(self, raw: Tensor) -> Tensor:
        return torch.sigmoid(raw) if self.params.objective == "ctr" else raw

    def predict(self, batch: dict[str, Tensor]) -> Tensor:
        return self.output(self.score_pairs(self.users_of(batch), self.items_of(batch)))

    def loss(self, scores: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """MSE (rating) or BCE on logits (ctr) of raw ``scores [B]`` against the label."""
        if self.label_field not in batch:
            raise DataError(f"the batch has no label column '{self.label_field}'", fix="declare a field with kind: label")
        label = batch[self.label_field].float()
        if self.params.objective == "ctr":
            return F.binary_cross_entropy_with_logits(scores, label)
        return F.mse_loss(scores, label)

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        return self.loss(self.score_pairs(self.users_of(batch), self.items_of(batch)), batch)

    def score_items(self, users: Tensor, items: Tensor | None = None) -> Tensor:
        """``[U, I]`` predictions (ratings or probabilities) by one matrix product."""
        if items is None:
            items = torch.arange(self.num_items, device=users.device)
        raw = self._vectors("user", users) @ self._vectors("item", items).T
        if self.params.use_bias:
            raw = raw + self._biases(users, items)
        return self.output(raw)

    def item_vectors(self) -> Tensor:
        return self._vectors("item", torch.arange(self.num_items, device=self.item_embedding.weight.device)).detach()

    def prepare(self, context: Any) -> None:
        self.side.prepare(context)
