"""Negative sampling for implicit feedback: uniform or popularity, pointwise or pairwise.

Sampling works on item *indices* (the fitted vocabulary), is vectorised (whole arrays per
round of rejection), and is reproducible: the same seed gives the same negatives. With
``exclude_positives`` a user's known positives are never drawn: rejected draws are redrawn,
only those, until none is left.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from recforge.core.data.schema import FIRST
from recforge.core.data.table import TensorTable, concat_tables
from recforge.core.errors import ConfigError, DataError

MAX_ROUNDS = 200


class NegativeSampler:
    """Draws negative item indices in ``[FIRST, num_items)``.

    Args:
        num_items: size of the item vocabulary (padding and unknown included).
        method: ``uniform``, or ``popularity`` (probability proportional to
            ``count ** power``).
        counts: interactions per item index (popularity only), length ``num_items``.
        power: popularity smoothing exponent (0.75 as in word2vec).
        seed: random seed.

    Example:
        >>> s = NegativeSampler(10, seed=1)
        >>> s.set_positives(torch.tensor([0]), torch.tensor([2]))
        >>> bool((s.sample(torch.tensor([0, 0]), 3) != 2).all())
        True
    """

    def __init__(self, num_items: int, method: Literal["uniform", "popularity"] = "uniform", counts: np.ndarray | None = None, power: float = 0.75, seed: int = 2024) -> None:
        if num_items <= FIRST:
            raise DataError("no items to sample negatives from", fix="check that the training split has items")
        if method not in ("uniform", "popularity"):
            raise ConfigError(f"unknown negative sampling method '{method}'", fix="use uniform or popularity")
        self.num_items = num_items
        self.method = method
        self.rng = np.random.default_rng(seed)
        self.prob: np.ndarray | None = None
        if method == "popularity":
            if counts is None or len(counts) != num_items:
                raise ConfigError("popularity sampling needs counts for every item index", fix="pass counts of length num_items")
            weights = np.asarray(counts, dtype=np.float64)[FIRST:] ** power
            if weights.sum() <= 0:
                raise DataError("every item has zero interactions; popularity sampling is undefined", fix="use uniform sampling")
            self.prob = weights / weights.sum()
        self.known = np.zeros(0, dtype=np.int64)
        self.per_user = np.zeros(0, dtype=np.int64)

    def set_positives(self, users: torch.Tensor, items: torch.Tensor) -> None:
        """Remember (user, item) pairs never to draw as negatives."""
        u = torch.as_tensor(users).numpy().astype(np.int64)
        i = torch.as_tensor(items).numpy().astype(np.int64)
        self.known = np.unique(u * self.num_items + i)
        self.per_user = np.bincount(self.known // self.num_items)

    def _draw(self, size: int) -> np.ndarray:
        if self.prob is None:
            return self.rng.integers(FIRST, self.num_items, size=size)
        return self.rng.choice(self.num_items - FIRST, size=size, p=self.prob) + FIRST

    def _is_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        if self.known.size == 0:
            return np.zeros(items.shape, dtype=bool)
        keys = users * self.num_items + items
        pos = np.searchsorted(self.known, keys).clip(max=self.known.size - 1)
        return self.known[pos] == keys

    def sample(self, users: torch.Tensor, num: int, exclude_positives: bool = True) -> torch.Tensor:
        """``[N, num]`` negative item indices for each user in ``users``."""
        u = torch.as_tensor(users).numpy().astype(np.int64)
        if exclude_positives and self.per_user.size:
            full = self.per_user[u.clip(max=self.per_user.size - 1)] * (u < self.per_user.size) >= self.num_items - FIRST
            if full.any():
                raise DataError(f"user index {int(u[full][0])} has interacted with every item, so it has no negatives", fix="drop that user or disable exclude_positives")
        out = self._draw(u.size * num).reshape(u.size, num)
        if exclude_positives:
            users_rep = np.repeat(u, num).reshape(u.size, num)
            bad = self._is_known(users_rep, out)
            for _ in range(MAX_ROUNDS):
                if not bad.any():
                    break
                redraw = self._draw(int(bad.sum()))
                out[bad] = redraw
                bad[bad] = self._is_known(users_rep[bad], redraw)
            if bad.any():
                raise DataError("negative sampling could not avoid known positives", fix="lower negatives.num or use uniform sampling")
        return torch.from_numpy(out)


def add_pointwise_negatives(table: TensorTable, items: TensorTable, user_field: str, item_field: str, label: str, sampler: NegativeSampler, num: int) -> TensorTable:
    """Append ``num`` negative rows (label 0) per positive row.

    A negative row copies the positive row's user and context columns and takes every item
    column from the items table (row = item index), so item features stay consistent.
    """
    positive = torch.nonzero(table.dense[label] > 0).squeeze(1)
    rows = positive.repeat_interleave(num)
    negatives = sampler.sample(table.dense[user_field][positive], num).reshape(-1)
    base = table.take(rows)
    item_rows = items.take(negatives)
    dense = dict(base.dense)
    ragged = dict(base.ragged)
    for name in items.dense:
        if name in dense:
            dense[name] = item_rows.dense[name]
    for name in items.ragged:
        if name in ragged:
            ragged[name] = item_rows.ragged[name]
    dense[item_field] = negatives
    dense[label] = torch.zeros(rows.numel(), dtype=table.dense[label].dtype)
    return concat_tables([table, TensorTable(dense, ragged, table.max_len)])


def add_pairwise_negatives(table: TensorTable, user_field: str, sampler: NegativeSampler, num: int, column: str) -> TensorTable:
    """Add a dense ``[N, num]`` column of negative item indices for pairwise losses."""
    return table.with_columns({column: sampler.sample(table.dense[user_field], num)})
