"""Prometheus metrics of one ingest app (its own registry: tests build many apps)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["IngestMetrics"]


class IngestMetrics:
    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "iotpipe_ingest_requests",
            "HTTP requests and WebSocket frames handled.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.records = Counter(
            "iotpipe_ingest_records",
            "Records received, by outcome and rejection reason.",
            ["record_type", "outcome", "reason"],
            registry=self.registry,
        )
        self.produce_latency = Histogram(
            "iotpipe_ingest_produce_latency_seconds",
            "Time from handing a request's records to Kafka until all were acknowledged.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "iotpipe_ingest_producer_queue_depth",
            "Records waiting in the producer for Kafka's acknowledgement.",
            registry=self.registry,
        )
        self.queue_depth.set_function(lambda: float(queue_depth()))

    def accepted(self, record_type: str, count: int = 1) -> None:
        self.records.labels(record_type, "accepted", "").inc(count)

    def rejected(self, record_type: str, reason: str) -> None:
        self.records.labels(record_type, "rejected", reason).inc()
