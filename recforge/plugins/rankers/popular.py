"""``popular``: rank every item by its training popularity (the baseline any recommender must beat)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from recforge.core.components import param
from recforge.core.data.schema import FIRST, PAD
from recforge.core.errors import ConfigError, DataError
from recforge.core.data.interactions import column, id_fields
from recforge.plugins.rankers._base import StandaloneRanker, has_training_data


def popularity_counts(items: Tensor, histories: Tensor | None, num_items: int, window: int) -> Tensor:
    """``[I]`` how often each item occurs in the training rows.

    ``items [N]`` are the rows' items; ``histories [N, L]`` (right-padded, oldest first, or
    None) their histories. ``window = 0`` counts every item of every row (global popularity);
    ``window = w > 0`` counts only each row's ``w`` most recent items -- its own item and the
    last ``w - 1`` of its history (recent popularity: what users bought lately).
    """
    counts = torch.bincount(items.long(), minlength=num_items)[:num_items].double()
    if histories is not None and window != 1:
        counts += _history_counts(histories.long(), num_items, window)
    counts[:FIRST] = 0  # padding and unknown are never recommended
    return counts


def _history_counts(hist: Tensor, num_items: int, window: int) -> Tensor:
    """Counts of the history items (only the last ``window - 1`` of each row when ``window > 1``)."""
    if window > 1:
        lengths = (hist != PAD).sum(1, keepdim=True)
        pos = torch.arange(hist.shape[1]).unsqueeze(0)
        hist = hist.masked_fill(pos < lengths - (window - 1), PAD)
    return torch.bincount(hist.reshape(-1), minlength=num_items)[:num_items].double()


class Popular(StandaloneRanker):
    """Most-popular ranking: every user / row gets the same list, ordered by training counts.

    On next-item rows the counts include the items of the histories (``count_history``); a
    ``window`` keeps only each row's most recent items (recent popularity). On plain
    interaction data the counts are the training interactions of each item (positive labels
    only where the data has a label). Nothing is trained: ``fit(prepared)`` counts.

    Args:
        window: 0 = global popularity; w > 0 = count each row's w most recent items only.
        count_history: also count the items of a history sequence field when the data has one.
        history_field: the history field ('' = the sequence field over the item vocabulary).

    Example:
        model:
          ranker: {name: popular, params: {window: 3}}
        eval: {protocol: rows, metrics: [recall@10]}
    """

    name = "popular"
    task = "retrieval"
    trainable: ClassVar[bool] = False

    @dataclass
    class Params:
        window: int = param(0, "0 = global popularity; w > 0 = each row's w most recent items")
        count_history: bool = param(True, "also count the items of the row histories")
        history_field: str = param("", "history sequence field ('' = the one over the item vocabulary)")

    def __init__(self, num_users: int, num_items: int, params: Popular.Params, user_field: str = "user_id",
                 item_field: str = "item_id", dim: int = 0) -> None:
        super().__init__(num_users, num_items, user_field, item_field)
        if params.window < 0:
            raise ConfigError(f"popular window must be >= 0, got {params.window}", fix="use 0 (global) or e.g. 3")
        self.params = params
        self.register_buffer("popularity", torch.zeros(self.num_items))

    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Any) -> Popular:
        user, item, n_users, n_items = id_fields(prepared)
        model = cls(n_users, n_items, params, user, item)
        if has_training_data(prepared):  # else: a saved model, the counts come with the weights
            model.fit(prepared)
        return model

    def fit(self, prepared: Any) -> None:
        """Count the training rows' items (and history items); log-scaled into ``popularity``."""
        from recforge.plugins.rankers._sequential import history_field

        train = prepared.splits["train"]
        items = column(train, self.item_field)
        if prepared.label:
            items = items[column(train, prepared.label) > 0]
        histories = None
        if self.params.count_history:
            try:
                hist = history_field(prepared, self.item_field, self.params.history_field)
            except DataError:  # plain interaction data: no history to count
                hist = None
            if hist is not None:
                histories = train.batch(torch.arange(train.num_rows))[hist.name]
                if prepared.label:
                    histories = histories[column(train, prepared.label) > 0]
        counts = popularity_counts(items, histories, self.num_items, self.params.window)
        self.popularity.copy_(torch.from_numpy(np.log1p(counts.numpy())).float())

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError("popular is fitted, not trained: call fit(prepared)")

    def score_items(self, users: Tensor, items: Tensor | None = None) -> Tensor:
        pop = self.popularity if items is None else self.popularity[items]
        return pop.unsqueeze(0).repeat(users.shape[0], 1)

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        return self.popularity[items]

    def score_rows(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B, I]``: the same popularity ranking for every row."""
        rows = self.items_of(batch).shape[0]
        return self.popularity.unsqueeze(0).repeat(rows, 1)

    def item_vectors(self) -> Tensor:
        """Each item's log count (a one-dimensional vector)."""
        return self.popularity.unsqueeze(1)
