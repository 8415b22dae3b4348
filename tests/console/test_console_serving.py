"""The Serving view (key 8) against a real ``recforge serve`` and against nothing at all.

The served model is the one the real CLI trained and registered in the console's real store
(``real_store.py``); the server is a real uvicorn subprocess on a free 127.0.0.1 port
(:class:`Server` from tests/serving). Without a server, and with an HTTP server that is not
recforge, the panel says so instead of crashing.
"""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from recforge.console.app import RecforgeConsole
from recforge.console.screens.serving import ServingScreen
from recforge.core.store import Store
from recforge.services.serving_status import Scrape, quantile, request_rate, scrape

httpx = pytest.importorskip("httpx")
pytest.importorskip("prometheus_client")
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
from servers import Server, free_port

pytestmark = pytest.mark.anyio
SIZE = (120, 36)


def _text(screen: ServingScreen) -> str:
    return str(screen.query_one("#serve-status", Static).render())


async def _poll(app: RecforgeConsole, pilot: Any) -> ServingScreen:
    """One poll of the current Serving screen, waited for."""
    screen = app.screen
    assert isinstance(screen, ServingScreen)
    screen.action_poll()
    await app.workers.wait_for_complete()
    await pilot.pause()
    return screen


async def _open(app: RecforgeConsole, pilot: Any) -> ServingScreen:
    """Key 8, then its first poll done."""
    await pilot.press("8")
    return await _poll(app, pilot)


def test_quantile_and_rate_follow_prometheus() -> None:
    """Linear inside the bucket, the largest finite bound for the +Inf bucket; no rate across a restart."""
    buckets = ((0.01, 2.0), (0.1, 6.0), (float("inf"), 10.0))
    assert quantile(0.1, buckets) == pytest.approx(0.005)  # rank 1 of 2 in [0, 0.01]
    assert quantile(0.5, buckets) == pytest.approx(0.01 + 0.09 * 3 / 4)  # rank 5: 3 of 4 in (0.01, 0.1]
    assert quantile(0.95, buckets) == pytest.approx(0.1)
    assert quantile(0.5, ((0.01, 0.0), (float("inf"), 0.0))) is None
    down = Scrape("http://h", at=1.0, problem="no server")
    assert request_rate(None, down) is None and request_rate(down, down) is None


async def test_no_server_is_a_message_in_the_panel(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("RECFORGE_SERVE_URL", url)
    app = RecforgeConsole(store=store, refresh_s=None)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot)
        assert screen.query_one("#serve-url", Input).value == url
        assert _text(screen).startswith(f"no server answers at {url}") and "recforge serve MODEL" in _text(screen)
        assert screen.query_one("#serve-endpoints", DataTable).row_count == 0
        await pilot.press("1", "8")  # the section keys still work, the view polls again on return
        await app.workers.wait_for_complete()
        assert "no server answers" in _text(app.screen)


@pytest.fixture
def not_recforge() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that answers 404 to everything."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/nothing-here"
    server.shutdown()
    server.server_close()


def test_a_server_that_is_not_recforge_is_named(not_recforge: str) -> None:
    result = scrape(not_recforge)
    assert result.problem is not None and "is not a recforge server" in result.problem
    assert scrape("localhost:8000").problem == "'localhost:8000' is not an http(s) URL; type one like http://127.0.0.1:8000"


@pytest.mark.slow
async def test_serving_view_shows_a_real_server(real_store: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version, catalogue size, per-endpoint counts and latency, and a rate between two polls."""
    monkeypatch.setenv("RECFORGE_SERVE_URL", f"http://127.0.0.1:{free_port()}")
    server = Server(real_store.home, f"{real_store.model}/1")
    try:
        health = httpx.get(server.url + "/health", timeout=5).json()
        for user in ("1", "2", "3"):
            assert httpx.post(server.url + "/recommend", json={"user": user, "k": 5}, timeout=30).status_code == 200
        assert httpx.post(server.url + "/recommend", json={"user": "1", "k": 0}, timeout=30).status_code == 400
        app = RecforgeConsole(store=store, refresh_s=None)
        async with app.run_test(size=SIZE) as pilot:
            screen = await _open(app, pilot)
            assert _text(screen).startswith("no server answers")  # RECFORGE_SERVE_URL: nothing there
            await pilot.press("u")  # type the real server's URL in the screen
            field = screen.query_one("#serve-url", Input)
            field.value = ""
            await pilot.press(*server.url, "enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            text = _text(screen)
            assert f"model      {health['model_version']}" in text
            assert f"catalogue  {health['catalogue_size']} items" in text and health["catalogue_size"] > 0
            assert "requests   4 (1 errors)" in text and "rate -" in text
            table = screen.query_one("#serve-endpoints", DataTable)
            rows = {str(table.get_row_at(r)[0]): [str(c) for c in table.get_row_at(r)] for r in range(table.row_count)}
            assert set(rows) == {"/recommend"}  # the view's own /health and /metrics polls are left out
            assert rows["/recommend"][1:3] == ["4", "1"] and rows["/recommend"][3].endswith(" ms")
            httpx.post(server.url + "/recommend", json={"user": "4", "k": 5}, timeout=30)
            await _poll(app, pilot)
            text = _text(screen)
            assert "requests   5 (1 errors)" in text and "rate -" not in text
    finally:
        server.stop()
