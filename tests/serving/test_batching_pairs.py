"""Composed models score with cached item-side vectors (same scores), and concurrent HTTP
requests are merged into one batch by the dynamic batcher."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
import torch

from recforge.serving.engine import RecQuery
from recforge.serving.hotswap import load_serving
from tests.serving.conftest import Server

pytestmark = pytest.mark.slow


def test_cached_item_vectors_give_score_items_scores_and_follow_new_items(
        serve_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECFORGE_HOME", str(serve_home))
    served = load_serving("qs/1", persist=False)
    assert served.pairs is not None and served.pairs.cached  # DeepFM: no encoder crosses user/item
    users = torch.tensor([2, 3, 40])
    assert torch.allclose(served.pairs.score(users), served.model.score_items(users).float(), atol=1e-5, rtol=0)
    served.add_items([{"item_id": "pairs-new", "title": "A robot learns to paint", "genres": "Animation|Sci-Fi"}])
    scores = served.pairs.score(users)  # the cache was dropped: the new item has its column
    assert scores.shape[1] == served.catalogue.size
    assert torch.allclose(scores, served.model.score_items(users).float(), atol=1e-5, rtol=0)
    top = served.recommend([RecQuery(user="196", k=1, items=["pairs-new"])])[0]
    assert top[0]["item"] == "pairs-new" and top[0]["score"] == pytest.approx(
        float(served.model.score_items(torch.tensor([served._user_index("196")]))[0, -1]), abs=1e-5)


def test_concurrent_requests_are_scored_in_shared_batches(serve_home: Path) -> None:
    def batches(url: str) -> tuple[float, float]:
        lines = httpx.get(url + "/metrics").text.splitlines()
        value = {ln.split(" ")[0]: float(ln.split(" ")[1]) for ln in lines if ln.startswith("recforge_batch_size_")}
        return value["recforge_batch_size_sum"], value["recforge_batch_size_count"]

    with Server(serve_home, "qs/1", "--poll", "0") as server:
        alone = httpx.post(server.url + "/recommend", json={"user": "196", "k": 3}, timeout=120).json()["items"]
        before = batches(server.url)
        answers: list[list[str]] = []
        start = threading.Barrier(16)

        def ask() -> None:
            start.wait()
            body = httpx.post(server.url + "/recommend", json={"user": "196", "k": 3}, timeout=300).json()
            answers.append([r["item"] for r in body["items"]])

        threads = [threading.Thread(target=ask) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        requests, calls = (a - b for a, b in zip(batches(server.url), before))
    assert requests == 16 and calls < 16  # at least two requests shared one model call
    assert answers == [[r["item"] for r in alone]] * 16  # and each got its own, unchanged answer
