"""``recforge serve`` over real HTTP: every endpoint, good and malformed requests, hot swap."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from recforge.core.recommend import Recommender
from recforge.services.model_refs import open_model
from tests.serving.conftest import Server, run_cli

pytestmark = pytest.mark.slow
AUTH = {"Authorization": "Bearer s3cret"}
CLIENT = httpx.Client(timeout=120)  # new texts load the language model once, slow on a busy CPU


def test_recommend_matches_in_process_recommender(server: Server, serve_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    body = CLIENT.post(server.url + "/recommend", json={"user": "196", "k": 5}).json()
    assert body["model_version"] == "qs/1"
    monkeypatch.setenv("RECFORGE_HOME", str(serve_home))
    local = Recommender(open_model("qs/1")[1]).recommend("196", k=5, exclude_seen=True)
    assert [r["item"] for r in body["items"]] == [r["item"] for r in local]
    assert [r["score"] for r in body["items"]] == pytest.approx([r["score"] for r in local], abs=1e-6)
    assert body["items"][0]["title"]


def test_batch_predict_similar_health_metrics_docs(server: Server) -> None:
    batch = CLIENT.post(server.url + "/recommend/batch",
                       json={"requests": [{"user": "196", "k": 2}, {"user": "nobody", "k": 2}]}).json()
    assert len(batch["results"][0]["items"]) == 2 and "not in the model's training data" in batch["results"][1]["error"]
    row = {"user_id": "196", "item_id": "50", "gender": "M", "occupation": "writer", "age_bucket": "40",
           "zip1": "5", "release_year": "1977", "genres": "Action", "title": "Star Wars (1977)", "label": 1}
    scores = CLIENT.post(server.url + "/predict", json={"rows": [row, row]}).json()["scores"]
    assert len(scores) == 2 and 0 <= scores[0] <= 1 and scores[0] == pytest.approx(scores[1])
    unlabelled = {k: v for k, v in row.items() if k != "label"}  # scoring needs no label
    assert CLIENT.post(server.url + "/predict", json={"rows": [unlabelled]}).json()["scores"] == pytest.approx(scores[:1])
    # the quickstart model reads neither age_bucket, zip1 nor release_year: rows may leave them out
    unread = {k: v for k, v in unlabelled.items() if k not in ("age_bucket", "zip1", "release_year")}
    assert CLIENT.post(server.url + "/predict", json={"rows": [unread]}).json()["scores"] == pytest.approx(scores[:1])
    for column in ("gender", "title"):  # read directly, and through item_text's template
        missing = {k: v for k, v in unlabelled.items() if k != column}
        refused = CLIENT.post(server.url + "/predict", json={"rows": [missing]})
        assert refused.status_code == 400 and f"'{column}'" in refused.json()["error"], refused.text
    sim = CLIENT.get(server.url + "/similar/50", params={"k": 3}).json()
    assert len(sim["items"]) == 3 and "50" not in [r["item"] for r in sim["items"]]
    health = CLIENT.get(server.url + "/health").json()
    assert health["status"] == "ok" and health["catalogue_size"] > 1000
    text = CLIENT.get(server.url + "/metrics").text
    for name in ("recforge_requests_total", "recforge_request_seconds_bucket", "recforge_catalogue_items",
                 'recforge_model_info{version="qs/'):
        assert name in text
    assert CLIENT.get(server.url + "/docs").status_code == 200
    assert "/recommend" in CLIENT.get(server.url + "/openapi.json").json()["paths"]


@pytest.mark.parametrize(("payload", "status", "words"), [
    ('{"user": "196",', 422, "not valid JSON"),
    ('{"user": "196", "kk": 3}', 422, "unknown field 'kk'"),
    ('{"user": "196", "k": 0}', 400, "k must be between 1"),
    ('{"user": "196", "k": 99999}', 400, "k must be between 1"),
    ('{"user": "nobody"}', 404, "not in the model's training data"),
    ('{"user": "nobody", "features": {"gender": "M"}}', 400, "features are incomplete"),
    ('[1, 2]', 422, "JSON object"),
])
def test_bad_requests_are_4xx_json_and_server_stays_up(server: Server, payload: str, status: int, words: str) -> None:
    resp = CLIENT.post(server.url + "/recommend", content=payload, headers={"content-type": "application/json"})
    assert resp.status_code == status, resp.text
    assert words in resp.json()["error"]
    assert CLIENT.get(server.url + "/health").status_code == 200


def test_oversized_batch_and_unknown_item(server: Server) -> None:
    resp = CLIENT.post(server.url + "/recommend/batch", json={"requests": [{"user": "196"}] * 1001})
    assert resp.status_code == 422 and "requests" in resp.json()["error"]
    assert CLIENT.get(server.url + "/similar/no-such-item").status_code == 404


def test_live_items_need_token_and_are_recommendable_next_request(server: Server) -> None:
    item = {"item_id": "live-1", "title": "Robots of the outer galaxy", "genres": "Sci-Fi|Action"}
    assert CLIENT.post(server.url + "/items", json={"items": [item]}).status_code == 401
    resp = CLIENT.post(server.url + "/items", json={"items": [item]}, headers=AUTH)
    assert resp.status_code == 200, resp.text
    recs = CLIENT.post(server.url + "/recommend", json={"user": "196", "k": 1, "items": ["live-1", "50"]}).json()["items"]
    assert "live-1" in [r["item"] for r in recs] or recs[0]["item"] == "50"
    only = CLIENT.post(server.url + "/recommend", json={"user": "196", "k": 1, "items": ["live-1"]}).json()["items"]
    assert only[0]["item"] == "live-1" and only[0]["title"] == item["title"]
    bad = CLIENT.post(server.url + "/items", json={"items": [{"item_id": "x", "colour": "red"}]}, headers=AUTH)
    assert bad.status_code == 400 and "unknown field 'colour'" in bad.json()["error"]
    long = CLIENT.post(server.url + "/items", json={"items": [{"item_id": "y", "title": "a" * 100_000}]}, headers=AUTH)
    assert long.status_code == 400 and "characters" in long.json()["error"]
    assert CLIENT.delete(server.url + "/items/live-1").status_code == 401
    assert CLIENT.delete(server.url + "/items/live-1", headers=AUTH).status_code == 200
    gone = CLIENT.post(server.url + "/recommend", json={"user": "196", "k": 1, "items": ["live-1"]}).json()["items"]
    assert gone == []


def test_hot_swap_under_load_drops_nothing(server: Server, serve_home: Path) -> None:
    failures: list[str] = []
    versions: set[str] = set()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.url) as client:
            while not stop.is_set():
                resp = client.post("/recommend", json={"user": "196", "k": 3})
                if resp.status_code != 200:
                    failures.append(resp.text)
                else:
                    versions.add(resp.json()["model_version"])

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    run_id = json.loads(run_cli(serve_home, "models", "list", "--json").stdout)[0]["run_id"]
    run_cli(serve_home, "models", "register", str(run_id), "qs")
    run_cli(serve_home, "models", "promote", "qs", "2", "production")
    deadline = __import__("time").time() + 60
    while "qs/2" not in versions and __import__("time").time() < deadline:
        stop.wait(0.2)
    stop.wait(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert {"qs/1", "qs/2"} <= versions
    assert CLIENT.get(server.url + "/health").json()["model_version"] == "qs/2"


def test_a_body_over_the_limit_is_413_before_it_is_read(server: Server) -> None:
    import socket

    from recforge.serving.app import MAX_BODY

    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n{\"user\": " % (MAX_BODY + 1))
        answer = b""
        while b"limit" not in answer:  # the status line and the JSON body may come in two reads
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b"over the" in answer
    text = CLIENT.get(server.url + "/metrics").text
    assert 'recforge_requests_total{endpoint="/recommend",status="413"}' in text
    assert CLIENT.get(server.url + "/health").status_code == 200
