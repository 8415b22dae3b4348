"""``lr``: the first-order (wide / logistic-regression) term."""

from __future__ import annotations

from torch import Tensor, nn

from recforge.core.components import Interaction
from recforge.plugins.interactions._blocks import check_sizes


class LR(Interaction):
    """First-order term: one linear map over the flattened field vectors, ``H = 1``.

    With learned embeddings, ``w . vec(x)`` gives every feature value its own scalar weight
    (``w_f . e_v``), so this is logistic regression over the one-hot features; it is the
    "wide" part of Wide&Deep, DeepFM and xDeepFM. Accepts a flat input ``[B, 1, H]``.

    Args:
        (none)

    Example:
        interaction: lr
    """

    name = "lr"
    accepts_flat = True

    def __init__(self, num_fields: int, dim: int, params: object = None) -> None:
        super().__init__()
        check_sizes(self.name, num_fields, dim)
        self.linear = nn.Linear(num_fields * dim, 1)
        nn.init.zeros_(self.linear.bias)
        self.output_dim = 1

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.flatten(1))
