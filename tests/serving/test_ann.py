"""The faiss IVF and HNSW indexes against exact search, with live adds, updates and masks."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("faiss")

from recforge.serving.ann import IndexConfig, VectorIndex, recall_at


def unit(n: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g), dim=1)


def test_hnsw_recall_and_live_rows() -> None:
    items, queries = unit(4000, 16, 0), unit(50, 16, 1)
    ann, exact = VectorIndex(items, IndexConfig(method="hnsw", exact_below=0)), VectorIndex(items)
    assert (ann.kind, exact.kind) == ("hnsw", "exact")
    allowed = torch.ones(4000, dtype=torch.bool)
    _, got = ann.search(queries, 10, allowed)
    _, want = exact.search(queries, 10, allowed)
    assert recall_at(got, want) >= 0.95
    # an added item equal to the query is its top hit; an updated item moves; a masked one never shows
    ann.set_rows([4000], queries[:1])
    assert int(ann.search(queries[:1], 1, torch.ones(4001, dtype=torch.bool))[1][0, 0]) == 4000
    ann.set_rows([7], queries[1:2])
    assert int(ann.search(queries[1:2], 1, torch.ones(4001, dtype=torch.bool))[1][0, 0]) == 7
    mask = torch.ones(4001, dtype=torch.bool)
    mask[7] = False
    assert 7 not in ann.search(queries[1:2], 10, mask)[1][0].tolist()


def test_ivf_with_every_list_probed_is_exact() -> None:
    items, queries = unit(4000, 16, 2), unit(20, 16, 3)
    ivf = VectorIndex(items, IndexConfig(exact_below=0, nlist=64, nprobe=64))
    allowed = torch.ones(4000, dtype=torch.bool)
    assert ivf.kind == "ivf"
    assert torch.equal(ivf.search(queries, 10, allowed)[1], VectorIndex(items).search(queries, 10, allowed)[1])


def test_ivf_tunes_nprobe_on_tuning_queries_and_serves_live_rows() -> None:
    items, tuning, queries = unit(6000, 16, 4), unit(100, 16, 5), unit(50, 16, 6)
    ivf = VectorIndex(items, IndexConfig(exact_below=0, nlist=64, target_recall=0.9), tuning_queries=tuning)
    assert ivf.kind == "ivf" and 1 <= ivf.nprobe < 64 and ivf.tuned_recall is not None and ivf.tuned_recall >= 0.9
    allowed = torch.ones(6000, dtype=torch.bool)
    # tuned on other queries: recall on these is measured, not promised; far above a few lists' share
    assert recall_at(ivf.search(queries, 10, allowed)[1], VectorIndex(items).search(queries, 10, allowed)[1]) >= 0.8
    ivf.set_rows([6000], queries[:1])
    assert int(ivf.search(queries[:1], 1, torch.ones(6001, dtype=torch.bool))[1][0, 0]) == 6000
    mask = torch.ones(6001, dtype=torch.bool)
    mask[6000] = False
    assert 6000 not in ivf.search(queries[:1], 10, mask)[1][0].tolist()


def test_index_config_reaches_worker_processes_unchanged() -> None:
    from recforge.serving.ann import index_from_env, index_to_env

    config = IndexConfig(method="hnsw", exact_below=10, nprobe=7, target_recall=0.9)
    assert index_from_env(index_to_env(config)) == config
    assert index_from_env("") == IndexConfig()
