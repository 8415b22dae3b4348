"""``example-hadamard-sum``: the bi-interaction pooling of NFM, as a plugin example."""

from __future__ import annotations

from torch import Tensor

from recforge.core.components import Interaction, NoParams


class HadamardSum(Interaction):
    """Sum over all field pairs of their elementwise products: ``sum_{i<j} x_i * x_j``.

    Computed in O(F·D) with the square-of-sum identity
    ``0.5 * ((sum_i x_i)^2 - sum_i x_i^2)`` instead of looping over the F(F-1)/2 pairs.
    The output keeps the embedding dimension (H = D), so an MLP can follow it.

    Args:
        num_fields: number of field slots F (any F >= 1; F = 1 gives zeros).
        dim: embedding dimension D, which is also the output size H.
        params: no parameters.

    Example:
        model:
          interaction: {stack: [example-hadamard-sum, {name: mlp, params: {hidden: [64]}}]}
    """

    name = "example-hadamard-sum"
    version = "1"

    def __init__(self, num_fields: int, dim: int, params: NoParams | None = None) -> None:
        super().__init__()
        self.num_fields = num_fields
        self.output_dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``[B, F, D]`` field vectors -> ``[B, D]``."""
        square_of_sum = x.sum(dim=1).pow(2)
        sum_of_squares = x.pow(2).sum(dim=1)
        return 0.5 * (square_of_sum - sum_of_squares)
