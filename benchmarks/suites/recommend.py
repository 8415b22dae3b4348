"""``recommend``: top-10 latency for one user and all-users throughput, two-tower style.

The work is what ``recforge.core.recommend.Recommender.top_k`` does with a two-tower model
(``TwoTower.score_items``: one user vector times the item-vector matrix; padding/unknown
columns masked; ``torch.topk``), done here with the same torch ops on synthetic unit vectors,
because the Recommender needs a saved model and no trained model has 1M items. Item
matrices are float32: a bfloat16 matrix was tried and torch's CPU ``[1, D] x [D, N]``
bfloat16 product took ~36 ms at 5k items (a slow path), so it is not offered here.
"""

from __future__ import annotations

import math
import time

import torch

from benchmarks.harness import Result, echo
from benchmarks.suites import Options, SuiteOutput

SIZES = {"tiny": {"items": (5_000, 20_000), "queries": 20, "users": 512, "dim": 64},
         "full": {"items": (100_000, 1_000_000), "queries": 300, "users": 20_000, "dim": 64}}
P50_BARS_MS = {100_000: 2.0, 1_000_000: 20.0}
K = 10
FIRST = 2  # recforge.core.data.schema.FIRST: rows 0 and 1 are padding / unknown
SCORE_BUDGET = 64 * 2**20  # floats per chunk of all-users scores


def top_k(users: torch.Tensor, items: torch.Tensor, k: int = K) -> tuple[torch.Tensor, torch.Tensor]:
    """Recommender.top_k's ops: scores by one product, padding/unknown masked, topk."""
    scores = (users @ items.T).float()
    scores[:, :FIRST] = -torch.inf
    return torch.topk(scores, k, dim=1)


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    idx = min(len(sorted_ms) - 1, max(0, math.ceil(q / 100 * len(sorted_ms)) - 1))
    return sorted_ms[idx]


def one_user_latency(items: torch.Tensor, user_vecs: torch.Tensor) -> list[float]:
    """Milliseconds of each single-user top-K call, ascending."""
    top_k(user_vecs[:1], items)  # warm-up
    out = []
    for i in range(user_vecs.shape[0]):
        start = time.perf_counter()
        top_k(user_vecs[i:i + 1], items)
        out.append((time.perf_counter() - start) * 1e3)
    return sorted(out)


def all_users_rate(items: torch.Tensor, user_vecs: torch.Tensor) -> float:
    """Users per second for top-K of every user, scored in chunks that bound memory."""
    chunk = max(1, min(256, SCORE_BUDGET // items.shape[0]))
    start = time.perf_counter()
    for s in range(0, user_vecs.shape[0], chunk):
        top_k(user_vecs[s:s + chunk], items)
    return user_vecs.shape[0] / (time.perf_counter() - start)


def unit(n: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    x = torch.randn(n, dim, generator=gen)
    return x / x.norm(dim=1, keepdim=True)


def run(opts: Options) -> SuiteOutput:
    size = SIZES[opts.size]
    torch.set_num_threads(opts.threads)
    gen = torch.Generator().manual_seed(2024)
    results: list[Result] = []
    notes = [("same ops as Recommender.top_k over TwoTower.score_items, on synthetic vectors (dim "
              f"{size['dim']}); no saved model with that many items exists")]
    for n_items in size["items"]:
        items = unit(n_items, size["dim"], gen)
        n_users = max(1, min(size["users"], size["users"] * 100_000 // n_items))  # same work per size
        users = unit(max(size["queries"], n_users), size["dim"], gen)
        label = f"top{K}-{n_items // 1000}k-items"
        echo(f"{label}: one-user latency, all-users throughput")
        lat = one_user_latency(items, users[:size["queries"]])
        rate = all_users_rate(items, users[:n_users])
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
