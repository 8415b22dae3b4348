"""Shared machinery of the standalone rankers: id fields, negatives, embedding scoring.

A standalone ranker is a whole model: it builds itself from prepared data with
``from_prepared(prepared, model_cfg, params)`` and implements
:class:`recforge.core.model_api.RecommenderModel` directly, instead of being a head on top of
encoders and an interaction.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from recforge.core.components import WholeModel
from recforge.core.config_schema import DEFAULT_EMBEDDING_DIM
from recforge.core.data.schema import FIRST
from recforge.core.errors import ConfigError, DataError
from recforge.core.model_api import neg_key
from recforge.core.data.interactions import id_fields, interaction_csr

#: users x items above which the training-item mask for fallback negatives is not kept
MAX_DENSE_SEEN = 200_000_000
REJECTION_ROUNDS = 20


def embedding_dim(model_cfg: dict[str, Any]) -> int:
    """``model.embedding_dim`` (validated by the config schema; its one default otherwise)."""
    dim = model_cfg.get("embedding_dim", DEFAULT_EMBEDDING_DIM)
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise ConfigError(f"model.embedding_dim must be a positive integer, got {dim!r}", fix="set e.g. embedding_dim: 64")
    return dim


def has_training_data(prepared: Any) -> bool:
    """Whether ``prepared`` holds real training rows (not a saved model's restored stand-in).

    Data-derived state (graphs, similarities, profiles, lookups) is computed from training
    rows when building for training and loaded from the weights when rebuilding a saved model.
    """
    splits = getattr(prepared, "splits", None)
    return bool(splits) and "train" in splits and not getattr(prepared, "restored", False)


class StandaloneRanker(WholeModel):
    """Base of rankers that are whole models over a user-id and an item-id field."""

    model_keys: ClassVar[frozenset[str]] = frozenset({"embedding_dim", "embedding_regularizer", "net_regularizer"})
    task: ClassVar[str] = "pairwise"

    def __init__(self, num_users: int, num_items: int, user_field: str = "user_id", item_field: str = "item_id") -> None:
        super().__init__()
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.user_field, self.item_field = user_field, item_field
        self.register_buffer("_seen", None, persistent=False)

    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Any) -> StandaloneRanker:
        """Build from prepared data: the id fields and their vocabulary sizes."""
        user, item, n_users, n_items = id_fields(prepared)
        model = cls(n_users, n_items, params, user_field=user, item_field=item, dim=embedding_dim(model_cfg))  # type: ignore[call-arg]
        model.set_train_positives(prepared)
        return model

    def set_train_positives(self, prepared: Any) -> None:
        """Remember each user's training items so fallback negatives avoid them (RecBole's sampler).

        Kept as a non-persistent ``[U, I]`` bool buffer (not saved: only training needs it);
        skipped for catalogues too large to hold densely.
        """
        if not has_training_data(prepared):
            return
        if self.num_users * self.num_items > MAX_DENSE_SEEN:
            return
        self._seen = torch.from_numpy(interaction_csr(prepared, "train").toarray() > 0)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        """Buffers derived from training data (graphs, lookups) take the saved shapes on load.

        A model rebuilt from a saved config has no training data, so those buffers start
        empty; resizing them here lets ``load_state_dict`` fill them from the safetensors file.
        """
        for module_prefix, module in self.named_modules(prefix=prefix.rstrip(".")):
            sep = "." if module_prefix else ""
            for name, buf in list(module._buffers.items()):
                key = f"{module_prefix}{sep}{name}"
                if buf is not None and key in state_dict and state_dict[key].shape != buf.shape:
                    module._buffers[name] = torch.empty_like(state_dict[key], device=buf.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ batch access
    def _ids(self, batch: dict[str, Tensor], key: str) -> Tensor:
        if key not in batch:
            raise DataError(f"the batch has no '{key}' column", fix=f"declare the field '{key}' in data.fields")
        return batch[key].long()

    def users_of(self, batch: dict[str, Tensor]) -> Tensor:
        return self._ids(batch, self.user_field)

    def items_of(self, batch: dict[str, Tensor]) -> Tensor:
        return self._ids(batch, self.item_field)

    def negatives_of(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B, n]`` sampled negatives: the data layer's ``neg_<item>`` or uniform draws here.

        Without the column, one negative per row is drawn uniformly from the known items, fresh
        every batch (so every epoch sees new negatives), redrawing those that hit one of the
        user's training items -- RecBole's uniform training sampler.
        """
        key = neg_key(self.item_field)
        if key in batch:
            neg = batch[key].long()
            return neg.unsqueeze(1) if neg.dim() == 1 else neg
        users = self.users_of(batch)
        high = max(self.num_items, FIRST + 1)
        neg = torch.randint(FIRST, high, (users.shape[0],), device=users.device)
        seen = self._seen
        if seen is not None:
            for _ in range(REJECTION_ROUNDS):  # redraw the few that hit a training item
                clash = seen[users, neg]
                if not clash.any():
                    break
                neg[clash] = torch.randint(FIRST, high, (int(clash.sum()),), device=users.device)
        return neg.unsqueeze(1)

    # ------------------------------------------------------------------ protocol defaults
    def prepare(self, context: Any) -> None:
        """Nothing to precompute by default."""

    def predict(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B]`` scores of the batch's (user, item) rows."""
        return self.score_pairs(self.users_of(batch), self.items_of(batch))

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        """``[B]`` scores of ``(users[b], items[b])``."""
        raise NotImplementedError

    def item_vectors(self) -> Tensor:
        raise NotImplementedError(f"{self.name} has no item vectors")


class EmbeddingRanker(StandaloneRanker):
    """A ranker scoring by the dot product of a user vector and an item vector.

    Subclasses may override :meth:`all_vectors` (e.g. graph propagation in LightGCN).
    """

    def __init__(self, num_users: int, num_items: int, dim: int, user_field: str = "user_id", item_field: str = "item_id") -> None:
        super().__init__(num_users, num_items, user_field, item_field)
        self.dim = dim
        self.user_embedding = nn.Embedding(self.num_users, dim, padding_idx=0)
        self.item_embedding = nn.Embedding(self.num_items, dim, padding_idx=0)
        for table in (self.user_embedding, self.item_embedding):
            nn.init.xavier_normal_(table.weight)  # RecBole's initialisation for MF models
            with torch.no_grad():
                table.weight[0].zero_()

    def all_vectors(self) -> tuple[Tensor, Tensor]:
        """``(user vectors [U, d], item vectors [I, d])`` used for scoring."""
        return self.user_embedding.weight, self.item_embedding.weight

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        u, i = self.all_vectors()
        return (u[users] * i[items]).sum(-1)

    def score_items(self, users: Tensor, items: Tensor | None = None) -> Tensor:
        """``[U, I]`` dot products: one matrix product, exact top-K."""
        u, i = self.all_vectors()
        item_mat = i if items is None else i[items]
        return u[users] @ item_mat.T

    def item_vectors(self) -> Tensor:
        return self.all_vectors()[1].detach()

    def pairwise_scores(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """``(pos [B], neg [B, n], user vecs, pos vecs, neg vecs)`` of a training batch."""
        u_all, i_all = self.all_vectors()
        users, items, negs = self.users_of(batch), self.items_of(batch), self.negatives_of(batch)
        u, p, n = u_all[users], i_all[items], i_all[negs]
        return (u * p).sum(-1), torch.einsum("bd,bnd->bn", u, n), u, p, n
