"""CTR head: sigmoid + binary cross-entropy."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from recforge.core.calibration import Calibration
from recforge.core.components import param
from recforge.core.errors import DataError
from recforge.plugins.rankers._head import HeadRanker


class CTRRanker(HeadRanker):
    """Click-through-rate head: a logit from the representation, trained with log loss.

    Predictions are ``sigmoid(logit)``, i.e. click probabilities (evaluate with auc, gauc,
    logloss, ece). The logit passes through a :class:`~recforge.core.calibration.Calibration`
    first: the identity, until ``train.calibrate`` fits temperature, Platt or isotonic scaling on valid.

    Args:
        pos_weight: weight of positive examples in the loss (>1 for rare clicks).

    Example:
        model:
          interaction: deepfm
          ranker: {name: ctr}
    """

    name = "ctr"
    task = "pointwise"

    @dataclass
    class Params:
        pos_weight: float = param(1.0, "weight of positive examples in the loss")

    def __init__(self, input_dim: int, params: CTRRanker.Params) -> None:
        super().__init__(input_dim, params)
        self.calibration = Calibration()

    def loss(self, scores: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """Mean binary cross-entropy of logits ``scores [B]`` against the 0/1 label."""
        weight = torch.tensor(self.params.pos_weight, device=scores.device)
        return F.binary_cross_entropy_with_logits(scores, self.label(batch), pos_weight=weight)

    def output(self, raw: Tensor) -> Tensor:
        return torch.sigmoid(self.calibration(raw))

    def check_labels(self, labels: Tensor, where: str) -> None:
        """Click labels must be 0 or 1: anything else would train a meaningless log loss."""
        bad = (labels != 0) & (labels != 1)
        if bool(bad.any()):
            value = float(labels[bad][0])
            raise DataError(
                f"label column '{self.label_field}' holds {value:g} in the {where} split, but a ctr "
                "model needs 0/1 labels",
                fix="binarise it with data.label: {threshold: N}, or use ranker: rating",
            )
