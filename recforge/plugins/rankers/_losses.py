"""Loss functions shared by the rankers (pure functions, so tests check them by hand)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def bpr_loss(pos: Tensor, neg: Tensor) -> Tensor:
    """Bayesian personalised ranking: ``mean(-log sigmoid(s_pos - s_neg))``.

    Args:
        pos: ``[B]`` scores of the observed items.
        neg: ``[B]`` or ``[B, n]`` scores of sampled negatives (each paired with its row's positive).
    """
    if neg.dim() == pos.dim() + 1:
        pos = pos.unsqueeze(-1)
    return -F.logsigmoid(pos - neg).mean()


def sampled_softmax_loss(
    user_vecs: Tensor,
    item_vecs: Tensor,
    item_ids: Tensor,
    log_q: Tensor | None = None,
    temperature: float = 1.0,
    neg_vecs: Tensor | None = None,
    neg_ids: Tensor | None = None,
) -> Tensor:
    """Softmax over in-batch items (plus optional sampled negatives) with logQ correction.

    Row ``b``'s positive is item ``b`` of the batch; the other rows' items are its negatives.
    Because popular items appear as in-batch negatives more often than a uniform sample would
    draw them, each logit is corrected by subtracting ``log q(item)``, the item's sampling
    probability (Yi et al., RecSys 2019). A batch item equal to row ``b``'s own positive is
    masked out of row ``b``'s negatives (it is not a negative for that user).

    Args:
        user_vecs: ``[B, d]`` query vectors.
        item_vecs: ``[B, d]`` vectors of each row's positive item.
        item_ids: ``[B]`` item indices of the positives (for duplicate masking and ``log_q``).
        log_q: ``[num_items]`` log sampling probabilities, or None for no correction.
        temperature: logits are divided by it before the correction.
        neg_vecs: ``[B, n, d]`` extra sampled negatives per row, or None.
        neg_ids: ``[B, n]`` their item indices (for the correction and masking).
    """
    logits = user_vecs @ item_vecs.T / temperature
    if log_q is not None:
        logits = logits - log_q[item_ids].unsqueeze(0)
    same = item_ids.unsqueeze(0) == item_ids.unsqueeze(1)
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    if neg_vecs is not None:
        extra = torch.einsum("bd,bnd->bn", user_vecs, neg_vecs) / temperature
        if log_q is not None and neg_ids is not None:
            extra = extra - log_q[neg_ids]
        if neg_ids is not None:
            extra = extra.masked_fill(neg_ids == item_ids.unsqueeze(1), float("-inf"))
        logits = torch.cat([logits, extra], dim=1)
    target = torch.arange(logits.shape[0], device=logits.device)
    return F.cross_entropy(logits, target)
