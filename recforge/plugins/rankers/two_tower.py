"""Two-tower retrieval: user and item towers built from encoders and interactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recforge.core.components import param
from recforge.core.errors import ConfigError
from recforge.core.model_api import neg_key
from recforge.core.data.interactions import id_fields
from recforge.plugins.rankers._base import StandaloneRanker, embedding_dim, has_training_data
from recforge.plugins.rankers._features import EntityFeatures
from recforge.plugins.rankers._losses import bpr_loss, sampled_softmax_loss
from recforge.plugins.rankers.softmax import item_log_frequency


class Tower(nn.Module):
    """Field vectors ``[N, F, D]`` -> interaction (or mean over slots) -> linear -> ``[N, out]``."""

    def __init__(self, num_fields: int, dim: int, out_dim: int, interaction: Any = None) -> None:
        super().__init__()
        self.interaction = None
        width = dim
        if interaction is not None:
            from recforge.core.composition import build_interaction

            self.interaction = build_interaction(interaction, num_fields, dim)
            width = int(self.interaction.output_dim)
        self.proj = nn.Linear(width, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        rep = self.interaction(x) if self.interaction is not None else x.mean(1)
        return self.proj(rep)


def tower_spec(model_cfg: dict[str, Any], role: str) -> dict[str, Any]:
    towers = model_cfg.get("towers") or {}
    spec = towers.get(role) or {}
    if not isinstance(spec, dict) or set(spec) - {"fields", "interaction"}:
        raise ConfigError(
            f"model.towers.{role} must be a mapping with 'fields' and/or 'interaction'",
            fix=f"write towers: {{{role}: {{fields: [...], interaction: mlp}}}}",
        )
    return spec


class TwoTower(StandaloneRanker):
    """Dual encoder: a user tower and an item tower whose dot product is the score.

    Each tower encodes its entity's fields (the user-role fields for users, the item-role
    fields for items, or ``model.towers.<role>.fields``) with the usual encoders, combines them
    with an interaction (``model.towers.<role>.interaction``; default: the mean of the field
    vectors) and projects to ``out_dim``. Trained with an in-batch sampled softmax with logQ
    correction (or BPR on the sampled negatives). For serving, the item tower runs once over the
    catalogue (``prepare`` / eval mode) and top-K is one matrix product with those vectors.

    Args:
        out_dim: size of the tower outputs (0 = the embedding dim).
        loss: ``softmax`` (in-batch + logQ) or ``bpr`` (sampled negatives).
        temperature: softmax temperature.
        normalize: L2-normalise tower outputs (cosine scores).
        row_queries: the user tower reads each row's own user-role columns (e.g. its purchase
            history) instead of the per-user lookup: next-item rows of users never seen in
            training, evaluated with ``eval.protocol: rows``.

    Example:
        model:
          embedding_dim: 32
          towers: {user: {fields: [user_id, age_bucket]}, item: {fields: [item_id, genres], interaction: mlp}}
          ranker: {name: two-tower, params: {loss: softmax, temperature: 0.1}}
    """

    name = "two-tower"
    model_keys = frozenset({"embedding_dim", "embedding_regularizer", "net_regularizer", "encoders", "towers"})
    task = "retrieval"

    @dataclass
    class Params:
        out_dim: int = param(0, "tower output size (0 = embedding_dim)")
        loss: str = param("softmax", "softmax (in-batch + logQ) or bpr (sampled negatives)")
        temperature: float = param(0.1, "softmax temperature")
        normalize: bool = param(True, "L2-normalise tower outputs")
        row_queries: bool = param(False, "user tower over each row's own user-role columns (next-item rows)")

    def __init__(self, num_users: int, num_items: int, params: TwoTower.Params, user_field: str = "user_id",
                 item_field: str = "item_id", dim: int = 64, features: EntityFeatures | None = None,
                 towers: dict[str, Tower] | None = None, log_q: Tensor | None = None) -> None:
        super().__init__(num_users, num_items, user_field, item_field)
        if params.loss not in ("softmax", "bpr"):
            raise ConfigError(f"two-tower loss '{params.loss}' is unknown", fix="use softmax or bpr")
        if features is None or towers is None:
            raise ConfigError("two-tower needs tower features", fix="build it with TwoTower.from_prepared")
        self.params = params
        self.features = features
        self.towers = nn.ModuleDict(towers)
        self.register_buffer("log_q", log_q if log_q is not None else torch.zeros(self.num_items))
        self._item_cache: Tensor | None = None

    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Any) -> TwoTower:
        from recforge.core.model import fields_of

        user, item, n_users, n_items = id_fields(prepared)
        dim = embedding_dim(model_cfg)
        fields = fields_of(prepared)
        names: dict[str, list[str]] = {}
        for role, id_field in (("user", user), ("item", item)):
            spec = tower_spec(model_cfg, role)
            chosen = spec.get("fields") or [n for n, f in fields.items() if f.role == role]
            if id_field not in chosen:
                chosen = [id_field, *chosen]
            names[role] = list(chosen)
        features = EntityFeatures.from_prepared(prepared, names["user"] + names["item"], model_cfg, dim)
        for role in ("user", "item"):
            wrong = [n for n in names[role] if features.roles[n] != role]
            if wrong:
                raise ConfigError(f"model.towers.{role}.fields has non-{role} fields {wrong}",
                                  fix=f"list only role: {role} fields in the {role} tower")
        out_dim = params.out_dim or dim
        towers = {role: Tower(sum(features.encoders[n].n_slots for n in names[role]), dim,
                              out_dim, tower_spec(model_cfg, role).get("interaction")) for role in ("user", "item")}
        log_q = item_log_frequency(prepared, n_items) if has_training_data(prepared) else None
        model = cls(n_users, n_items, params, user, item, dim, features, towers, log_q)
        model.set_train_positives(prepared)
        return model

    def embed(self, role: str, ids: Tensor) -> Tensor:
        """Tower outputs ``[N, out]`` of users or items by index."""
        x = self.features.encode(role, ids)
        assert x is not None  # every tower has at least its id field
        out = self.towers[role](x)
        return F.normalize(out, dim=-1) if self.params.normalize else out

    def all_item_vectors(self) -> Tensor:
        """The item tower over every item index; cached while not training."""
        if self.training or torch.is_grad_enabled():
            self._item_cache = None
            return self.embed("item", torch.arange(self.num_items, device=self.log_q.device))
        if self._item_cache is None:
            self._item_cache = self.embed("item", torch.arange(self.num_items, device=self.log_q.device))
        return self._item_cache

    def train(self, mode: bool = True) -> TwoTower:
        self._item_cache = None
        return super().train(mode)

    def prepare(self, context: Any) -> None:
        self.features.prepare(context)
        self._item_cache = None

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        return (self.embed("user", users) * self.embed("item", items)).sum(-1)

    def embed_rows(self, batch: dict[str, Tensor]) -> Tensor:
        """User-tower outputs ``[B, out]`` from the batch's own user-role columns (row queries)."""
        x = self.features.encode_batch("user", batch)
        assert x is not None  # the user tower has at least its id field
        out = self.towers["user"](x)
        return F.normalize(out, dim=-1) if self.params.normalize else out

    def _queries(self, batch: dict[str, Tensor]) -> Tensor:
        return self.embed_rows(batch) if self.params.row_queries else self.embed("user", self.users_of(batch))

    def predict(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B]`` scores of the batch's rows against their items."""
        return (self._queries(batch) * self.embed("item", self.items_of(batch))).sum(-1)

    def score_rows(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B, I]`` scores of every item for each row's query (``eval.protocol: rows``)."""
        return self._queries(batch) @ self.all_item_vectors().T

    def score_items(self, users: Tensor, items: Tensor | None = None) -> Tensor:
        """Exact scores by one matrix product against the precomputed item vectors."""
        item_mat = self.all_item_vectors()
        if items is not None:
            item_mat = item_mat[items]
        return self.embed("user", users) @ item_mat.T

    def item_vectors(self) -> Tensor:
        with torch.no_grad():
            return self.all_item_vectors().detach()

    def loss(self, scores: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """BPR loss of ``scores [B, 1 + n]`` whose first column is the positive."""
        return bpr_loss(scores[:, 0], scores[:, 1:])

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        items = self.items_of(batch)
        u, v = self._queries(batch), self.embed("item", items)
        has_neg = neg_key(self.item_field) in batch
        if self.params.loss == "bpr":
            negs = self.negatives_of(batch)
            n = self.embed("item", negs.reshape(-1)).view(*negs.shape, -1)
            return bpr_loss((u * v).sum(-1), torch.einsum("bd,bnd->bn", u, n))
        negs = self.negatives_of(batch) if has_neg else None
        n = self.embed("item", negs.reshape(-1)).view(*negs.shape, -1) if negs is not None else None
        return sampled_softmax_loss(u, v, items, self.log_q, self.params.temperature, n, negs)
