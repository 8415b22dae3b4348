"""Top-K by inner product over a live item matrix: exact below a size threshold, HNSW (or IVF) above.

The index keeps one row per item index of the live catalogue. Updated or retired items are
masked (HNSW cannot delete), so a search asks for a few more neighbours than ``k`` and drops
masked ones; when too many were dropped it searches again wider. Added items are appended to
the faiss index at once, so they are retrievable in the next request.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: below this many items an exact matrix product is as fast as any approximate index
EXACT_BELOW = 50_000


class VectorIndex:
    """Inner-product top-K over item vectors ``[N, d]`` (row = item index).

    Args:
        vectors: the item matrix.
        exact_below: item count under which search is exact (a matrix product).
        hnsw_m, ef_search, ef_construction: HNSW parameters (approximate mode).
    """

    def __init__(self, vectors: Tensor, exact_below: int = EXACT_BELOW, hnsw_m: int = 32,
                 ef_search: int = 256, ef_construction: int = 80, method: str = "hnsw", nprobe: int = 64) -> None:
        self.vectors = vectors.detach().float().contiguous()
        self.exact = self.vectors.shape[0] < exact_below
        self.method = "exact" if self.exact else method
        self.faiss_rows = torch.arange(0)  # faiss row -> item index
        self.ef_search = ef_search
        self.index = None
        if not self.exact:
            import faiss

            n, dim = self.vectors.shape
            data = np.ascontiguousarray(self.vectors.numpy(), dtype=np.float32)
            if method == "ivf":  # ~sqrt(N) lists, k-means on a sample: builds in seconds
                nlist = max(16, int(n ** 0.5))
                self.index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
                sample = data[np.random.default_rng(0).choice(n, min(n, 50 * nlist), replace=False)]
                self.index.train(sample)
                self.index.nprobe = nprobe
            elif method == "hnsw":
                self.index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
                self.index.hnsw.efConstruction = ef_construction
                self.index.hnsw.efSearch = ef_search
            else:
                raise ValueError(f"unknown ANN method {method!r}")
            self.index.add(data)
            self.faiss_rows = torch.arange(n)

    @property
    def kind(self) -> str:
        return self.method

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def set_rows(self, indices: list[int], vectors: Tensor) -> None:
        """Add (index past the end) or replace (inside) item vectors."""
        vectors = vectors.detach().float()
        top = max(indices) + 1
        if top > self.vectors.shape[0]:
            grown = torch.zeros(top - self.vectors.shape[0], self.vectors.shape[1])
            self.vectors = torch.cat([self.vectors, grown])
        self.vectors[torch.tensor(indices)] = vectors
        if self.index is not None:
            self.index.add(np.ascontiguousarray(vectors.numpy(), dtype=np.float32))
            self.faiss_rows = torch.cat([self.faiss_rows, torch.tensor(indices)])

    def scores(self, queries: Tensor) -> Tensor:
        """Exact ``[Q, N]`` inner products."""
        return queries.float() @ self.vectors.T

    def search(self, queries: Tensor, k: int, allowed: Tensor, extra: int = 0) -> tuple[Tensor, Tensor]:
        """``(scores [Q, k], item indices [Q, k])``, best first, only items with ``allowed[i]``.

        Args:
            queries: ``[Q, d]`` user vectors.
            k: results per query.
            allowed: ``[N]`` bool mask (live, not seen, in the filter); slots with no allowed
                item left are ``-inf``.
            extra: how many masked items a query may meet (its seen items) before its top-k.
        """
        if self.exact:
            scores = self.scores(queries)
            scores[:, ~allowed[: scores.shape[1]]] = -torch.inf
            kk = min(k, scores.shape[1])
            return torch.topk(scores, kk, dim=1)
        blocked = int((~allowed).sum())
        want = min(k + extra + min(blocked, 4 * k) + 8, len(self.faiss_rows))
        while True:
            if self.method == "hnsw":
                self.index.hnsw.efSearch = max(self.ef_search, want)
            _, rows = self.index.search(np.ascontiguousarray(queries.float().numpy()), want)
            rows_t = torch.from_numpy(rows).long()
            valid = rows_t >= 0
            items = torch.where(valid, self.faiss_rows[rows_t.clamp(min=0)], torch.zeros_like(rows_t))
            current = self.vectors[items]  # stale faiss rows of updated items are re-scored
            scores = torch.einsum("qd,qkd->qk", queries.float(), current)
            ok = valid & allowed[items] & self._latest(rows_t)
            scores = torch.where(ok, scores, torch.full_like(scores, -torch.inf))
            enough = bool((ok.sum(1) >= min(k, int(allowed.sum()))).all())
            if enough or want >= len(self.faiss_rows):
                break
            want = min(want * 4, len(self.faiss_rows))
        values, pos = torch.topk(scores, min(k, scores.shape[1]), dim=1)
        return values, torch.gather(items, 1, pos)

    def _latest(self, rows: Tensor) -> Tensor:
        """Whether each faiss row is the newest copy of its item (updates append a copy)."""
        if len(self.faiss_rows) == self.vectors.shape[0]:
            return rows >= 0
        last = torch.full((self.vectors.shape[0],), -1, dtype=torch.long)
        last.scatter_reduce_(0, self.faiss_rows, torch.arange(len(self.faiss_rows)), "amax")
        items = self.faiss_rows[rows.clamp(min=0)]
        return (rows >= 0) & (last[items] == rows)
