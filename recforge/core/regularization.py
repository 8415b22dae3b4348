"""L2 regularisation of embeddings and network weights (``model.embedding_regularizer`` /
``model.net_regularizer``), as FuxiCTR adds it to the loss: ``(lambda / 2) * ||W||^2``.

Embedding tables (``nn.Embedding`` / ``nn.EmbeddingBag`` weights) take the embedding weight;
every other weight matrix (``*.weight`` with two or more dimensions: linear, attention and
convolution kernels, not biases or norm scales) takes the network weight. The penalty is
added to the training loss only; reported losses and metrics are the data's.
"""

from __future__ import annotations

from torch import Tensor, nn


class L2Penalty:
    """``penalty()`` -> the scalar to add to one step's loss.

    Args:
        model: the model being trained.
        embedding: weight of the embedding tables' squared norm (>= 0).
        net: weight of the other weight matrices' squared norm (>= 0).
    """

    def __init__(self, model: nn.Module, embedding: float, net: float) -> None:
        tables = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))}
        self.terms: list[tuple[float, list[nn.Parameter]]] = []
        emb = [p for p in model.parameters() if p.requires_grad and id(p) in tables]
        other = [p for name, p in model.named_parameters()
                 if p.requires_grad and id(p) not in tables and name.endswith("weight") and p.dim() >= 2]
        for weight, params in ((embedding, emb), (net, other)):
            if weight > 0 and params:
                self.terms.append((weight, params))

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __call__(self) -> Tensor:
        total: Tensor | float = 0.0
        for weight, params in self.terms:
            total = total + (weight / 2) * sum(p.float().pow(2).sum() for p in params)
        return total  # type: ignore[return-value]


def penalty_for(model: nn.Module, embedding: float, net: float) -> L2Penalty | None:
    """The model's penalty, or None when both weights are zero (nothing is added)."""
    penalty = L2Penalty(model, embedding, net)
    return penalty if penalty else None
