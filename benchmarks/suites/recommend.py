"""``recommend``: top-10 latency for one user and all-users throughput, two-tower style.

The work is recforge's own serving path, ``recforge.core.recommend.Recommender.top_k``, over
an embedding ranker (``EmbeddingRanker.score_items``: one user vector times the item-vector
matrix, as a two-tower model does with its cached item-tower outputs; padding/unknown columns
masked; ``torch.topk``). The vectors are synthetic unit vectors because no trained model has
1M items; everything from the user index to the top-K goes through the library's code.
Item matrices are float32: a bfloat16 matrix was tried and torch's CPU ``[1, D] x [D, N]``
bfloat16 product took ~36 ms at 5k items (a slow path), so it is not offered.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from benchmarks.harness import Result, echo
from benchmarks.suites import Options, SuiteOutput
from recforge.core.recommend import Recommender
from recforge.core.saved_model import LoadedModel, SavedData
from recforge.plugins.rankers._base import EmbeddingRanker

SIZES = {"tiny": {"items": (5_000, 20_000), "queries": 20, "users": 512, "dim": 64},
         "full": {"items": (100_000, 1_000_000), "queries": 300, "users": 20_000, "dim": 64}}
P50_BARS_MS = {100_000: 2.0, 1_000_000: 20.0}
K = 10


def synthetic_recommender(n_users: int, n_items: int, dim: int, gen: torch.Generator) -> Recommender:
    """A :class:`Recommender` over an embedding ranker holding synthetic unit vectors."""
    model = EmbeddingRanker(n_users, n_items, dim)
    with torch.no_grad():
        model.user_embedding.weight.copy_(unit(n_users, dim, gen))
        model.item_embedding.weight.copy_(unit(n_items, dim, gen))
    model.eval()
    data = SavedData(featuremap=None, fields={}, label=None, user_field="user_id", item_field="item_id")
    empty = torch.zeros(0, dtype=torch.long)
    loaded = LoadedModel(model=model, config={}, data=data, item_ids=[], item_meta={},
                         seen_indptr=torch.zeros(n_users + 1, dtype=torch.long), seen_indices=empty, folder=Path("."))
    return Recommender(loaded)


def top_k(rec: Recommender, users: torch.Tensor, k: int = K) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scores, item indices)`` of the users' top-``k`` through recforge's Recommender."""
    return rec.top_k(users, k)


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    idx = min(len(sorted_ms) - 1, max(0, math.ceil(q / 100 * len(sorted_ms)) - 1))
    return sorted_ms[idx]


def one_user_latency(rec: Recommender, queries: int) -> list[float]:
    """Milliseconds of each single-user top-K call, ascending."""
    top_k(rec, torch.tensor([0]))  # warm-up
    out = []
    for user in range(queries):
        start = time.perf_counter()
        top_k(rec, torch.tensor([user]))
        out.append((time.perf_counter() - start) * 1e3)
    return sorted(out)


def all_users_rate(rec: Recommender, n_users: int) -> float:
    """Users per second for top-K of every user (the Recommender scores them in chunks)."""
    start = time.perf_counter()
    top_k(rec, torch.arange(n_users))
    return n_users / (time.perf_counter() - start)


def unit(n: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    x = torch.randn(n, dim, generator=gen)
    return x / x.norm(dim=1, keepdim=True)


def run(opts: Options) -> SuiteOutput:
    size = SIZES[opts.size]
    torch.set_num_threads(opts.threads)
    gen = torch.Generator().manual_seed(2024)
    results: list[Result] = []
    notes = [("recforge's Recommender.top_k over an embedding ranker's score_items, on synthetic unit "
              f"vectors (dim {size['dim']}); no trained model has that many items")]
    for n_items in size["items"]:
        n_users = max(1, min(size["users"], size["users"] * 100_000 // n_items))  # same work per size
        rec = synthetic_recommender(max(size["queries"], n_users), n_items, size["dim"], gen)
        label = f"top{K}-{n_items // 1000}k-items"
        echo(f"{label}: one-user latency, all-users throughput")
        lat = one_user_latency(rec, size["queries"])
        rate = all_users_rate(rec, n_users)
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        results.append(Result("recommend", "recforge", label, samples_per_s=round(rate, 1),
                              extra={"p50_ms": round(p50, 3), "p99_ms": round(p99, 3), "items": n_items,
                                     "queries": len(lat), "all_users": n_users}))
        bar = P50_BARS_MS.get(n_items)
        if bar is not None:
            notes.append(f"{label}: p50 {p50:.2f} ms (bar <= {bar} ms) -> {'met' if p50 <= bar else 'NOT met'}")
    lines = ["| workload | p50 ms | p99 ms | all-users users/s |", "|---|---:|---:|---:|"]
    lines += [f"| {r.model} | {r.extra['p50_ms']:.3f} | {r.extra['p99_ms']:.3f} | {r.samples_per_s:,.0f} |"
              for r in results]
    return SuiteOutput(results, ["\n".join(lines)], notes)
