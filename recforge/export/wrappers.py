"""Tensor-in, tensor-out modules of a model's scoring path (what ONNX/TorchScript can trace).

* Composed (CTR) models: the feature columns, in :attr:`RowScorer.inputs` order -> ``[B]``
  predictions, exactly ``model.predict`` of the batch.
* Embedding models (two-tower, MF, BPR, LightGCN): ``user [B], item [B]`` indices -> ``[B]``
  scores from the user and item vectors frozen at export time (one gather and a dot product).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recforge.serving.vectors import Retrieval


class RowScorer(nn.Module):
    """``model.predict`` over positional feature tensors (names in ``inputs``)."""

    def __init__(self, model: nn.Module, inputs: list[str]) -> None:
        super().__init__()
        self.model = model
        self.inputs = list(inputs)

    def forward(self, *columns: Tensor) -> Tensor:
        return self.model.predict(dict(zip(self.inputs, columns)))


class PairScorer(nn.Module):
    """``output(<user_vec[u], item_vec[i]>)`` with the vectors as constants."""

    def __init__(self, retrieval: Retrieval, n_users: int, n_items: int, sigmoid: bool) -> None:
        super().__init__()
        with torch.no_grad():
            self.register_buffer("users", retrieval.users(torch.arange(n_users)).detach().float().clone())
            self.register_buffer("items", retrieval.items(torch.arange(n_items)).detach().float().clone())
        self.sigmoid = sigmoid

    def forward(self, user: Tensor, item: Tensor) -> Tensor:
        raw = (self.users[user] * self.items[item]).sum(-1)
        return torch.sigmoid(raw) if self.sigmoid else raw
