"""Top-K by inner product over a live item matrix: exact below a size threshold, IVF (or HNSW) above.

The index keeps one row per item index of the live catalogue. Updated or retired items are
masked (faiss rows are only appended), so a search asks for a few more neighbours than ``k``
and drops masked ones; when too many were dropped it searches again wider. Added items are
appended to the faiss index at once, so they are retrievable in the next request.

The approximate index is an IVF-Flat by default: ``2 * sqrt(N)`` lists, whose k-means (10
iterations over 40 points per list) and assignment take about a minute at a million items
on 2 busy cores (HNSW's graph build over 1M vectors took over 35 minutes there).
How many lists a query probes (``nprobe``) trades recall for speed; it is either given, or
*tuned*: the smallest power of two whose top-k recall against exact search reaches
``target_recall`` on a set of tuning queries (the server uses a sample of its known users'
vectors; never the queries a benchmark measures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

#: below this many items an exact matrix product is as fast as any approximate index
EXACT_BELOW = 50_000


@dataclass(frozen=True)
class IndexConfig:
    """How the serving index is built (``recforge serve --ann/--exact-below/--nprobe/--ann-recall``).

    Attributes:
        method: approximate index above the threshold: ``ivf`` (IVF-Flat) or ``hnsw``.
        exact_below: item count under which search is an exact matrix product.
        nlist: IVF lists (0 = ``2 * sqrt(N)``, at most one per 40 items).
        nprobe: IVF lists probed per query (0 = tuned for ``target_recall`` on tuning queries,
            or ``DEFAULT_NPROBE`` when there are none).
        target_recall: top-10 recall against exact search that tuning must reach.
        hnsw_m, ef_search, ef_construction: HNSW parameters.
    """

    method: Literal["ivf", "hnsw"] = "ivf"
    exact_below: int = EXACT_BELOW
    nlist: int = 0
    nprobe: int = 0
    target_recall: float = 0.95
    hnsw_m: int = 32
    ef_search: int = 256
    ef_construction: int = 80


#: environment variable carrying the IndexConfig to ``recforge serve --workers N`` processes
INDEX_ENV = "RECFORGE_SERVE_INDEX"


def index_to_env(config: IndexConfig) -> str:
    import json
    from dataclasses import asdict

    return json.dumps(asdict(config))


def index_from_env(text: str) -> IndexConfig:
    import json

    return IndexConfig(**json.loads(text)) if text else IndexConfig()


#: nprobe of an IVF index with no tuning queries
DEFAULT_NPROBE = 32
#: k-means iterations when training IVF lists (faiss' default 25 costs minutes at 1M items)
IVF_KMEANS_ITERATIONS = 10
#: training points per IVF list
IVF_POINTS_PER_LIST = 40


def recall_at(got: Tensor, want: Tensor) -> float:
    """Share of ``want``'s ids (``[Q, k]``) that ``got`` (``[Q, k]``) also holds."""
    hits = sum(len(set(g.tolist()) & set(w.tolist())) for g, w in zip(got, want))
    return hits / max(want.numel(), 1)


class VectorIndex:
    """Inner-product top-K over item vectors ``[N, d]`` (row = item index).

    Args:
        vectors: the item matrix.
        config: index choice and parameters (exact below ``config.exact_below`` items).
        tuning_queries: ``[Q, d]`` query vectors to tune ``nprobe`` on (IVF with nprobe 0).
    """

    def __init__(self, vectors: Tensor, config: IndexConfig | None = None, tuning_queries: Tensor | None = None) -> None:
        self.config = config = config or IndexConfig()
        self.vectors = vectors.detach().float().contiguous()
        self.exact = self.vectors.shape[0] < config.exact_below
        self.method = "exact" if self.exact else config.method
        self.faiss_rows = torch.arange(0)  # faiss row -> item index
        self.ef_search = config.ef_search
        self.tuned_recall: float | None = None
        self.index = None
        if not self.exact:
            import faiss

            n, dim = self.vectors.shape
            data = np.ascontiguousarray(self.vectors.numpy(), dtype=np.float32)
            if config.method == "ivf":
                nlist = config.nlist or max(16, min(n // IVF_POINTS_PER_LIST, int(2 * n ** 0.5)))
                self.index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
                self.index.cp.niter = IVF_KMEANS_ITERATIONS
                sample = data[np.random.default_rng(0).choice(n, min(n, IVF_POINTS_PER_LIST * nlist), replace=False)]
                self.index.train(sample)
                self.index.nprobe = min(config.nprobe or DEFAULT_NPROBE, nlist)
            elif config.method == "hnsw":
                self.index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
                self.index.hnsw.efConstruction = config.ef_construction
                self.index.hnsw.efSearch = config.ef_search
            else:
                raise ValueError(f"unknown ANN method {config.method!r}")
            self.index.add(data)
            self.faiss_rows = torch.arange(n)
            if config.method == "ivf" and config.nprobe == 0 and tuning_queries is not None and len(tuning_queries):
                self.tune_nprobe(tuning_queries, config.target_recall)

    @property
    def kind(self) -> str:
        return self.method

    @property
    def nprobe(self) -> int | None:
        return int(self.index.nprobe) if self.method == "ivf" else None

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def tune_nprobe(self, queries: Tensor, target: float, k: int = 10) -> int:
        """Set ``nprobe`` to the smallest power of two reaching ``target`` top-k recall on ``queries``."""
        queries = queries.detach().float()
        allowed = torch.ones(len(self), dtype=torch.bool)
        want = torch.topk(queries @ self.vectors.T, min(k, len(self)), dim=1).indices
        nlist, nprobe = int(self.index.nlist), 1
        while True:
            self.index.nprobe = nprobe
            self.tuned_recall = recall_at(self.search(queries, k, allowed)[1], want)
            if self.tuned_recall >= target or nprobe >= nlist:
                return nprobe
            nprobe = min(nprobe * 2, nlist)

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
