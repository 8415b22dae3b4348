"""Shared head of the composed-model rankers: a linear map from the representation to a score."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from recforge.core.components import Ranker
from recforge.core.errors import DataError


class HeadRanker(Ranker):
    """``Linear(H, 1)`` over the interaction's representation ``[B, H]`` -> raw scores ``[B]``.

    ``label_field`` names the batch key of the target; the model assembly sets it from the
    prepared data's label (default ``label``).
    """

    standalone = False

    def __init__(self, input_dim: int, params: Any) -> None:
        super().__init__()
        if input_dim < 1:
            raise DataError(f"{self.name} head got a representation of size {input_dim}",
                            fix="use an interaction whose output_dim is at least 1")
        self.params = params
        self.label_field = "label"
        self.linear = nn.Linear(input_dim, 1)

    def forward(self, rep: Tensor) -> Tensor:
        return self.linear(rep).squeeze(-1)

    def label(self, batch: dict[str, Tensor]) -> Tensor:
        if self.label_field not in batch:
            raise DataError(f"the batch has no label column '{self.label_field}'",
                            fix="declare a field with kind: label in data.fields")
        return batch[self.label_field].float()

    def output(self, raw: Tensor) -> Tensor:
        return raw

    def check_labels(self, labels: Tensor, where: str) -> None:
        """Reject labels this head cannot learn from (before any run is recorded)."""
