"""LightGCN: embeddings smoothed over the user-item graph, trained with BPR."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recforge.core.components import param
from recforge.core.data.interactions import id_fields, interaction_csr
from recforge.plugins.rankers._base import EmbeddingRanker, embedding_dim, has_training_data
from recforge.plugins.rankers._losses import bpr_loss


class _SymmetricSpMM(torch.autograd.Function):
    """``adj @ x`` for a symmetric sparse CSR ``adj``; the gradient is ``adj @ grad``.

    PyTorch's generic sparse backward transposes the matrix on every call, which makes it
    ~70x slower than the forward on CPU; symmetry lets the backward reuse the same CSR product.
    Runs in float32 under autocast: sparse CSR products have no bf16 kernel on CPU.
    """

    @staticmethod
    def forward(ctx: Any, adj: Tensor, x: Tensor) -> Tensor:
        ctx.adj = adj
        with torch.autocast(x.device.type, enabled=False):
            return adj @ x.float()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:
        with torch.autocast(grad.device.type, enabled=False):
            return None, ctx.adj @ grad.float()


class LightGCN(EmbeddingRanker):
    """LightGCN (He et al., SIGIR 2020): linear propagation over the normalised bipartite graph.

    Layer ``k + 1`` is ``D^-1/2 A D^-1/2`` times layer ``k`` (``A`` the user-item adjacency of
    the training interactions); the final vectors are the mean of layers ``0..K``. Trained with
    BPR on sampled negatives plus an L2 penalty on the layer-0 embeddings of the batch. The
    graph's edges are kept as buffers, so a saved model scores without the training data.

    Args:
        n_layers: number of propagation layers ``K`` (RecBole default 2).
        reg_weight: L2 penalty on the batch's layer-0 embeddings, per example (RecBole 1e-5).

    Example:
        model:
          embedding_dim: 64
          ranker: {name: lightgcn, params: {n_layers: 2, reg_weight: 1.0e-5}}
    """

    name = "lightgcn"
    task = "pairwise"

    @dataclass
    class Params:
        n_layers: int = param(2, "number of propagation layers")
        reg_weight: float = param(1e-5, "L2 penalty on the batch's layer-0 embeddings")

    def __init__(self, num_users: int, num_items: int, params: LightGCN.Params, user_field: str = "user_id",
                 item_field: str = "item_id", dim: int = 64, edges: Tensor | None = None) -> None:
        super().__init__(num_users, num_items, dim, user_field, item_field)
        self.params = params
        self.register_buffer("edges", edges if edges is not None else torch.zeros((2, 0), dtype=torch.long))
        self._adj: Tensor | None = None
        self._cache: tuple[Tensor, Tensor] | None = None

    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Any) -> LightGCN:
        user, item, n_users, n_items = id_fields(prepared)
        edges = None
        if has_training_data(prepared):  # else: a saved model, edges come with the weights
            coo = interaction_csr(prepared, "train").tocoo()
            edges = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
        model = cls(n_users, n_items, params, user, item, embedding_dim(model_cfg), edges)
        model.set_train_positives(prepared)
        return model

    def adjacency(self) -> Tensor:
        """Sparse CSR ``D^-1/2 A D^-1/2`` over ``users + items`` nodes (built once, then cached)."""
        if self._adj is None or self._adj.device != self.edges.device:
            n = self.num_users + self.num_items
            u, i = self.edges[0], self.edges[1] + self.num_users
            rows, cols = torch.cat([u, i]), torch.cat([i, u])
            deg = torch.bincount(rows, minlength=n).float()
            inv_sqrt = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
            values = inv_sqrt[rows] * inv_sqrt[cols]
            coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (n, n), check_invariants=False)
            with warnings.catch_warnings():  # "sparse CSR support is in beta"
                warnings.simplefilter("ignore", UserWarning)
                self._adj = coo.coalesce().to_sparse_csr()
        return self._adj

    def propagate(self) -> tuple[Tensor, Tensor]:
        layer = torch.cat([self.user_embedding.weight, self.item_embedding.weight])
        total = layer
        adj = self.adjacency()
        for _ in range(self.params.n_layers):
            layer = _SymmetricSpMM.apply(adj, layer)
            total = total + layer
        final = total / (self.params.n_layers + 1)
        return final[: self.num_users], final[self.num_users :]

    def all_vectors(self) -> tuple[Tensor, Tensor]:
        """Propagated vectors; cached between calls while in eval mode."""
        if self.training or torch.is_grad_enabled():
            self._cache = None
            return self.propagate()
        if self._cache is None:
            self._cache = self.propagate()
        return self._cache

    def train(self, mode: bool = True) -> LightGCN:
        self._cache = None
        return super().train(mode)

    def loss(self, scores: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """BPR loss of ``scores [B, 1 + n]`` whose first column is the positive."""
        return bpr_loss(scores[:, 0], scores[:, 1:])

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        pos, neg, *_ = self.pairwise_scores(batch)
        users, items, negs = self.users_of(batch), self.items_of(batch), self.negatives_of(batch)
        ego = (self.user_embedding(users).pow(2).sum() + self.item_embedding(items).pow(2).sum()
               + self.item_embedding(negs).pow(2).sum())
        return bpr_loss(pos, neg) + self.params.reg_weight * ego / users.shape[0]
