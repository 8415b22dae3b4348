"""Prometheus metrics of one server process (its own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServerMetrics:
    """Requests by endpoint and status, latency histograms, catalogue size, model version."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("recforge_requests_total", "HTTP requests", ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("recforge_request_seconds", "request latency", ["endpoint"], buckets=BUCKETS,
                                 registry=self.registry)
        self.batch = Histogram("recforge_batch_size", "requests scored together", buckets=(1, 2, 4, 8, 16, 32, 64, 128),
                               registry=self.registry)
        self.catalogue = Gauge("recforge_catalogue_items", "live catalogue items", registry=self.registry)
        self.version = Gauge("recforge_model_info", "the model version answering", ["version"], registry=self.registry)
        self.swaps = Counter("recforge_model_swaps_total", "hot swaps to another model version", registry=self.registry)

    def set_version(self, version: str) -> None:
        self.version.clear()
        self.version.labels(version=version).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
