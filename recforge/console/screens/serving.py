"""Serving screen: a running ``recforge serve`` seen through its ``/health`` and ``/metrics``.

The console does not start the server; it polls the URL the user gives (default
``RECFORGE_SERVE_URL``, else ``http://127.0.0.1:8000``) every ``refresh_s`` seconds in a
worker, so a slow or absent server never blocks the keys. When nothing answers, the panel
says so and how to start one. Latency percentiles are since the server started; the request
rate is between the last two polls (the view's own polls of /health and /metrics are left out).
"""

from __future__ import annotations

import asyncio
from collections import deque

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Label, Sparkline, Static

from recforge.console.screens.base import ConsoleScreen
from recforge.console.widgets.plain_table import PlainTable
from recforge.services.serving_status import Scrape, default_url, request_rate, scrape

#: polls of request rate kept for the sparkline
HISTORY = 60
#: below this width the sparkline goes under the panel instead of beside it
NARROW = 110


def ms(seconds: float | None) -> str:
    """``1.8 ms``; ``-`` without observations."""
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def status_text(now: Scrape, rate: float | None) -> str:
    """The panel: what is served and how fast, or the problem in one line."""
    if now.problem:
        return now.problem
    total = now.total
    rate_text = "-" if rate is None else f"{rate:.1f}/s"
    return (f"server     {now.url}\n"
            f"model      {now.model_version}   (index {now.index}, {now.swaps} hot swaps)\n"
            f"catalogue  {now.catalogue_size} items\n"
            f"requests   {total.requests} ({total.errors} errors)   rate {rate_text}\n"
            f"latency    p50 {ms(total.p50)}   p95 {ms(total.p95)}   (since start)")


def rate_label(rates: list[float]) -> str:
    """The sparkline's caption: it scales from min to max, so the caption says what they are."""
    if not rates:
        return "requests/s: after two polls of a server"
    return f"requests/s now {rates[-1]:.1f}, min {min(rates):.1f}, max {max(rates):.1f} ({len(rates)} polls)"


class ServingScreen(ConsoleScreen):
    """URL field, status panel with a request-rate sparkline, and a table per endpoint."""

    AUTO_FOCUS = "#serve-endpoints"
    BINDINGS = [
        Binding("r", "poll", "Refresh"),
        Binding("u", "edit_url", "Server URL"),
        Binding("escape", "leave_url", "Leave URL", show=False),
    ]
    DEFAULT_CSS = """
    #serve-url-row { height: 3; }
    #serve-url-row > Label { padding: 1 1 0 1; }
    #serve-url { width: 1fr; }
    #serve-top { height: auto; }
    #serve-status { width: 1fr; height: auto; min-height: 5; padding: 0 1; }
    #serve-rate-box { width: 52; height: 7; padding: 0 1; }
    #serve-rate { height: 4; }
    #serve-endpoints { height: 1fr; }
    ServingScreen.narrow #serve-top { layout: vertical; }
    ServingScreen.narrow #serve-rate-box { width: 1fr; height: 4; }
    ServingScreen.narrow #serve-rate { height: 3; }
    """

    def __init__(self, url: str | None = None, refresh_s: float | None = 2.0) -> None:
        super().__init__()
        self.url = url or default_url()
        self.refresh_s = refresh_s
        self.last: Scrape | None = None
        self.rates: deque[float] = deque(maxlen=HISTORY)
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="serve-url-row"):
            yield Label("server URL")
            yield Input(self.url, placeholder=default_url(), id="serve-url")
        with Horizontal(id="serve-top"):
            yield Static("connecting ...", id="serve-status", markup=False)
            with Vertical(id="serve-rate-box"):
                yield Label("requests/s", id="serve-rate-label")
                yield Sparkline([], id="serve-rate")
        table = PlainTable(id="serve-endpoints", cursor_type="row", zebra_stripes=True)
        table.add_columns("endpoint", "requests", "errors", "p50", "p95")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Serving"
        self.action_poll()
        if self.refresh_s:
            self._timer = self.set_interval(self.refresh_s, self.action_poll)

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "narrow")

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.pause()

    def on_screen_resume(self) -> None:
        if self._timer is not None:
            self._timer.resume()
        self.action_poll()

    def action_edit_url(self) -> None:
        self.query_one("#serve-url", Input).focus()

    def action_leave_url(self) -> None:
        self.query_one("#serve-endpoints", PlainTable).focus()

    @on(Input.Submitted, "#serve-url")
    def _url_submitted(self, event: Input.Submitted) -> None:
        """Enter in the URL field polls the new server (and forgets the old one's rate)."""
        self.url = event.value.strip() or default_url()
        self.last = None
        self.rates.clear()
        self.action_leave_url()
        self.action_poll()

    def action_poll(self) -> None:
        self._poll(self.url)

    @work(exclusive=True, group="serving-poll")
    async def _poll(self, url: str) -> None:
        """Scrape in a thread (HTTP may wait for its timeout), then show it on the UI."""
        result = await asyncio.to_thread(scrape, url)
        if result.url == self.url.strip().rstrip("/"):  # the user may have typed another URL meanwhile
            self.show(result)

    def show(self, now: Scrape) -> None:
        """Fill the panel, sparkline and table from one scrape."""
        rate = request_rate(self.last, now)
        self.last = now
        if rate is not None:
            self.rates.append(rate)
        self.query_one("#serve-status", Static).update(status_text(now, rate))
        self.query_one("#serve-rate", Sparkline).data = list(self.rates)
        self.query_one("#serve-rate-label", Label).update(rate_label(list(self.rates)))
        table = self.query_one("#serve-endpoints", PlainTable)
        table.clear()
        for stats in now.traffic:
            table.add_row(stats.endpoint, str(stats.requests), str(stats.errors), ms(stats.p50), ms(stats.p95),
                          key=stats.endpoint)
