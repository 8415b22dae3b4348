"""Rating head: regression with mean squared error."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from recforge.core.components import param
from recforge.core.errors import ConfigError
from recforge.plugins.rankers._head import HeadRanker


class RatingRanker(HeadRanker):
    """Rating-regression head: predicts the label value, trained with MSE (evaluate rmse, mae).

    Args:
        min_rating: predictions are clipped to at least this (None = no clipping); training
            uses the unclipped score so gradients never vanish.
        max_rating: predictions are clipped to at most this (None = no clipping).

    Example:
        model:
          interaction: mlp
          ranker: {name: rating, params: {min_rating: 1, max_rating: 5}}
    """

    name = "rating"
    task = "rating"

    @dataclass
    class Params:
        min_rating: float | None = param(None, "clip predictions below (None = off)")
        max_rating: float | None = param(None, "clip predictions above (None = off)")

    def __init__(self, input_dim: int, params: RatingRanker.Params) -> None:
        super().__init__(input_dim, params)
        lo, hi = params.min_rating, params.max_rating
        if lo is not None and hi is not None and lo >= hi:
            raise ConfigError(f"rating head: min_rating {lo} is not below max_rating {hi}", fix="swap or fix them")

    def loss(self, scores: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """Mean squared error of ``scores [B]`` against the rating label."""
        return F.mse_loss(scores, self.label(batch))

    def output(self, raw: Tensor) -> Tensor:
        if self.params.min_rating is None and self.params.max_rating is None:
            return raw  # torch.clamp refuses two open bounds
        return raw.clamp(min=self.params.min_rating, max=self.params.max_rating)
