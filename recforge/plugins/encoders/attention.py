"""DIN-style target attention: weigh a history by its relevance to the candidate item."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recforge.core.errors import ConfigError


class TargetAttention(nn.Module):
    """Attention pooling of keys ``[B, L, D]`` against a query ``[B, D]`` (Zhou et al., DIN).

    The score of each position is a small MLP over ``[q, k, q - k, q * k]``; scores are
    normalised with a softmax over the non-padding positions only, so the weights of a row are
    a distribution over its real history (and all zero when the history is empty).

    Args:
        dim: vector size ``D``.
        hidden: width of the scoring MLP.

    Example:
        >>> att = TargetAttention(8)
        >>> att(torch.randn(2, 8), torch.randn(2, 5, 8), torch.ones(2, 5, dtype=torch.bool)).shape
        torch.Size([2, 8])
    """

    def __init__(self, dim: int, hidden: int = 36) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(4 * dim, hidden), nn.PReLU(), nn.Linear(hidden, 1))

    def weights(self, query: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        """Attention weights ``[B, L]``: a softmax over the positions where ``mask`` is True."""
        q = query.unsqueeze(1).expand_as(keys)
        logits = self.score(torch.cat([q, keys, q - keys, q * keys], dim=-1)).squeeze(-1)
        logits = logits.masked_fill(~mask, float("-inf"))
        w = torch.softmax(logits, dim=-1)
        return torch.nan_to_num(w, nan=0.0)  # rows with no history: softmax of all -inf

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        return (self.weights(query, keys, mask).unsqueeze(-1) * keys).sum(1)


def target_vector(encoded: dict[str, Tensor], target: str, owner: str) -> Tensor:
    """The target field's vector ``[B, D]`` from the already-encoded fields."""
    if target not in encoded:
        raise ConfigError(
            f"field '{owner}' attends to target '{target}', which is not encoded before it",
            fix=f"check params.target names an encoded field (have: {', '.join(sorted(encoded)) or 'none'})",
        )
    vec = encoded[target]
    return vec[:, 0] if vec.ndim == 3 else vec
