"""Content-based recommendation: user profiles from the text vectors of their items."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from recforge.core.components import param
from recforge.core.errors import ConfigError
from recforge.core.data.interactions import id_fields, interaction_csr
from recforge.plugins.rankers._base import StandaloneRanker, has_training_data

TextEncoder = Callable[[Sequence[str]], Tensor]


def content_field(prepared: Any, name: str) -> Any:
    """The item field whose vectors describe items: ``name``, or the first item text/vector field."""
    from recforge.core.model import fields_of

    fields = fields_of(prepared)
    if name:
        if name not in fields or fields[name].kind not in ("text", "vector"):
            raise ConfigError(
                f"content ranker field '{name}' is not a text or vector field",
                fix="name an item field of kind text or vector in the ranker's params.field",
            )
        return fields[name]
    for info in fields.values():
        if info.role == "item" and info.kind in ("text", "vector"):
            return info
    raise ConfigError(
        "the content ranker needs an item text or vector field, and the data has none",
        fix="declare e.g. {name: item_text, kind: text, role: item, template: '{title}'} in data.fields",
    )


def lm_text_encoder(model: str, pooling: str, max_length: int, template: str, store: Any = None) -> TextEncoder:
    """Frozen language-model vectors through the persistent text cache (encode once per text)."""

    def encode(texts: Sequence[str]) -> Tensor:
        from recforge.core.textcache import TextCache, TextVectorConfig
        from recforge.plugins.encoders.lm_backend import resolve_model, shared_backend

        model_id, revision = resolve_model(model)
        config = TextVectorConfig(model_id, revision, pooling, max_length, template, "fp32")
        backend = lambda missing: shared_backend(model, pooling, max_length, "fp32", "cpu").encode(missing)
        return TextCache(store=store).get_or_compute(config, list(texts), backend)

    return encode


class ContentBased(StandaloneRanker):
    """Content-based filtering: a user's profile is the mean vector of the items they consumed.

    Each item is represented by the frozen language-model vector of its text field (or a
    precomputed vector field); a user's profile is the mean over the items in their training
    history, and the score of an item is the cosine between the profile and the item's vector.
    ``fit(prepared)`` computes everything; nothing is trained, so it also ranks cold items
    that have text.

    Args:
        field: the item text or vector field to use ("" = the first one declared).
        model: language model for text fields ("" = the offline MiniLM).
        pooling: pooling of the language model's token states (mean, cls, last-token).
        max_length: token truncation length.

    Example:
        model:
          ranker: {name: content, params: {field: item_text}}
    """

    name = "content"
    model_keys = frozenset()  # fitted from text vectors: no embeddings, nothing trained
    task = "retrieval"
    trainable: ClassVar[bool] = False

    @dataclass
    class Params:
        field: str = param("", "item text or vector field (default: the first one)")
        model: str = param("", "language model for text fields ('' = offline MiniLM)")
        pooling: str = param("mean", "token pooling: mean, cls or last-token")
        max_length: int = param(64, "token truncation length")

    def __init__(self, num_users: int, num_items: int, params: ContentBased.Params, user_field: str = "user_id",
                 item_field: str = "item_id", dim: int = 0) -> None:
        super().__init__(num_users, num_items, user_field, item_field)
        self.params = params
        self.register_buffer("item_unit", torch.zeros(self.num_items, 0))
        self.register_buffer("profile_unit", torch.zeros(self.num_users, 0))

    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Any,
                      encode: TextEncoder | None = None) -> ContentBased:
        user, item, n_users, n_items = id_fields(prepared)
        model = cls(n_users, n_items, params, user, item)
        if has_training_data(prepared):  # else: a saved model, state comes with the weights
            model.fit(prepared, encode)
        return model

    def raw_item_vectors(self, prepared: Any, encode: TextEncoder | None = None) -> Tensor:
        """``[I, d]`` vectors by item index (zeros for items without text / padding)."""
        from recforge.core.model import feature_lookups

        info = content_field(prepared, self.params.field)
        lookup = feature_lookups(prepared, [info.name], self.user_field, self.item_field)[f"lookup_item__{info.name}"]
        if info.kind == "vector":
            return lookup.float()
        if encode is None:
            encode = lm_text_encoder(self.params.model, self.params.pooling, self.params.max_length,
                                     info.text_template or "")
        texts = list(info.texts)
        vecs = encode(texts[2:]) if len(texts) > 2 else torch.zeros(0, 1)
        bank = torch.cat([torch.zeros(2, vecs.shape[1]), vecs.float()])  # 0 = empty, 1 = unknown
        return bank[lookup.long()]

    def fit(self, prepared: Any, encode: TextEncoder | None = None) -> None:
        """Item vectors, then user profiles as the mean over each user's training items."""
        items = self.raw_item_vectors(prepared, encode)
        history = interaction_csr(prepared, "train")
        counts = np.maximum(np.asarray(history.sum(axis=1)).reshape(-1, 1), 1.0)
        profiles = torch.from_numpy(np.asarray(history @ items.double().numpy()) / counts).float()
        self.item_unit = F.normalize(items, dim=1)
        self.profile_unit = F.normalize(profiles, dim=1)

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError("the content ranker is fitted, not trained: call fit(prepared)")

    def score_items(self, users: Tensor, items: Tensor | None = None) -> Tensor:
        """Cosine of each user's profile with each item's vector."""
        item_mat = self.item_unit if items is None else self.item_unit[items]
        return self.profile_unit[users] @ item_mat.T

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        return (self.profile_unit[users] * self.item_unit[items]).sum(-1)

    def item_vectors(self) -> Tensor:
        return self.item_unit
