"""What a running ``recforge serve`` reports about itself, read from its ``/health`` and ``/metrics``.

The console's Serving view polls a server it did not start, so everything comes over HTTP:
``/health`` names the model version and catalogue size, ``/metrics`` is Prometheus text
(see :mod:`recforge.serving.metrics`) parsed with prometheus_client's own parser. Latency
percentiles are estimated from the cumulative histogram buckets the way Prometheus'
``histogram_quantile`` does (linear inside a bucket); the request rate needs two scrapes, so
:func:`request_rate` compares a scrape with the previous one.

A server that does not answer, answers garbage or is not a recforge server is a
:class:`Scrape` with ``problem`` set, never an exception: the view shows the message in its
panel. httpx and prometheus-client come with ``recforge[serve]``; without them ``problem``
says so. Nothing here imports torch.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

DEFAULT_URL = "http://127.0.0.1:8000"
#: the server's own endpoints: polling them is not traffic, so rates and latency leave them out
OWN_ENDPOINTS = frozenset({"/health", "/metrics"})


def default_url() -> str:
    """``RECFORGE_SERVE_URL``, else the address ``recforge serve`` binds by default."""
    return os.environ.get("RECFORGE_SERVE_URL", "").strip() or DEFAULT_URL


@dataclass(frozen=True)
class EndpointStats:
    """Totals of one endpoint since the server started."""

    endpoint: str
    requests: int
    errors: int  # responses with a 4xx or 5xx status
    #: cumulative histogram ``(upper bound, count)``, ascending, ending with ``+Inf``
    buckets: tuple[tuple[float, float], ...] = ()

    @property
    def p50(self) -> float | None:
        return quantile(0.5, self.buckets)

    @property
    def p95(self) -> float | None:
        return quantile(0.95, self.buckets)


@dataclass(frozen=True)
class Scrape:
    """One poll of a server: its answer, or the problem that stopped it (``problem`` set)."""

    url: str
    at: float  # time.monotonic() of the poll
    problem: str | None = None
    model_version: str | None = None
    catalogue_size: int | None = None
    index: str | None = None
    swaps: int = 0
    endpoints: tuple[EndpointStats, ...] = field(default=())

    @property
    def traffic(self) -> tuple[EndpointStats, ...]:
        """Endpoints that served requests, without the server's own /health and /metrics."""
        return tuple(e for e in self.endpoints if e.endpoint not in OWN_ENDPOINTS)

    @property
    def total(self) -> EndpointStats:
        """Every traffic endpoint together (buckets summed bound by bound)."""
        merged: dict[float, float] = {}
        for stats in self.traffic:
            for bound, count in stats.buckets:
                merged[bound] = merged.get(bound, 0.0) + count
        return EndpointStats("all", sum(e.requests for e in self.traffic), sum(e.errors for e in self.traffic),
                             tuple(sorted(merged.items())))


def quantile(q: float, buckets: tuple[tuple[float, float], ...]) -> float | None:
    """The ``q`` quantile of a cumulative histogram (None without observations).

    As Prometheus' ``histogram_quantile``: find the bucket the rank falls in and interpolate
    linearly between its bounds; a rank in the ``+Inf`` bucket answers the largest finite bound.
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside > 0 else 1.0)
        lower, below = bound, count
    return lower


def request_rate(previous: Scrape | None, current: Scrape) -> float | None:
    """Traffic requests per second between two scrapes of the same server (None when unknown).

    A counter that went down means the server restarted: no rate for that interval.
    """
    if previous is None or previous.problem or current.problem or previous.url != current.url:
        return None
    elapsed = current.at - previous.at
    delta = current.total.requests - previous.total.requests
    if elapsed <= 0 or delta < 0:
        return None
    return delta / elapsed


def parse_metrics(text: str) -> tuple[tuple[EndpointStats, ...], int]:
    """Per-endpoint stats and the hot-swap count from ``/metrics`` text.

    Raises:
        ValueError: the text is not Prometheus exposition format.
    """
    from prometheus_client.parser import text_string_to_metric_families

    requests: dict[str, int] = {}
    errors: dict[str, int] = {}
    buckets: dict[str, dict[float, float]] = {}
    swaps = 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            endpoint = sample.labels.get("endpoint", "")
            if sample.name == "recforge_requests_total":
                requests[endpoint] = requests.get(endpoint, 0) + int(sample.value)
                if sample.labels.get("status", "").startswith(("4", "5")):
                    errors[endpoint] = errors.get(endpoint, 0) + int(sample.value)
            elif sample.name == "recforge_request_seconds_bucket":
                buckets.setdefault(endpoint, {})[float(sample.labels["le"])] = sample.value
            elif sample.name == "recforge_model_swaps_total":
                swaps = int(sample.value)
    stats = tuple(EndpointStats(e, n, errors.get(e, 0), tuple(sorted(buckets.get(e, {}).items())))
                  for e, n in sorted(requests.items()))
    return stats, swaps


def scrape(url: str, timeout: float = 1.5) -> Scrape:
    """Poll ``url``'s ``/health`` and ``/metrics`` once; problems come back in ``problem``."""
    url = url.strip().rstrip("/")
    at = time.monotonic()
    try:
        import httpx
        import prometheus_client  # noqa: F401 - parse_metrics needs it
    except ImportError as err:
        return Scrape(url, at, problem=f"the Serving view needs {err.name}; pip install 'recforge[serve]'")
    if not url.startswith(("http://", "https://")):
        return Scrape(url, at, problem=f"{url!r} is not an http(s) URL; type one like {DEFAULT_URL}")
    try:
        with httpx.Client(timeout=timeout) as client:
            health = client.get(url + "/health")
            metrics = client.get(url + "/metrics")
    except httpx.HTTPError as err:
        reason = str(err) or type(err).__name__
        return Scrape(url, at, problem=f"no server answers at {url} ({reason}); start one with "
                                       "`recforge serve MODEL` or type its URL")
    try:
        health.raise_for_status()
        metrics.raise_for_status()
        body = health.json()
        version, size, index = str(body["model_version"]), int(body["catalogue_size"]), str(body.get("index", ""))
        endpoints, swaps = parse_metrics(metrics.text)
    except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as err:
        return Scrape(url, at, problem=f"{url} is not a recforge server ({type(err).__name__}: {err}); "
                                       "check the URL and port")
    return Scrape(url, at, model_version=version, catalogue_size=size, index=index, swaps=swaps, endpoints=endpoints)
