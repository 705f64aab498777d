"""Prometheus metrics of one ingest app (its own registry: tests build many apps).

With several worker processes (``ingest.workers``), the values live in files shared by
the workers (``prometheus_client``'s multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``): a
scrape reaches whichever worker the kernel hands the connection to, and every worker
answers with the sum of all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.multiprocess import MultiProcessCollector

from iotpipe.errors import ConfigError

__all__ = ["METRICS_DIR_ENV", "IngestMetrics"]

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_SECONDS = 1.0  # how often a worker writes its producer queue depth (shared mode)


class IngestMetrics:
    def __init__(self, queue_depth: Callable[[], int], *, shared_dir: str | None = None) -> None:
        self.registry = CollectorRegistry()
        self.shared_dir = shared_dir
        if shared_dir is not None and prometheus_values.ValueClass is prometheus_values.MutexValue:
            raise ConfigError(
                f"{METRICS_DIR_ENV} was set after prometheus_client was imported: "
                "the workers' metrics would not be shared"
            )
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
            multiprocess_mode="livesum",  # the workers' queues together
        )
        self._depth = queue_depth
        self._accepted: dict[str, Any] = {}
        if shared_dir is None:
            self.queue_depth.set_function(lambda: float(queue_depth()))

    def accepted(self, record_type: str, count: int = 1) -> None:
        child = self._accepted.get(record_type)  # labels() costs more than the increment
        if child is None:
            child = self._accepted[record_type] = self.records.labels(record_type, "accepted", "")
        child.inc(count)

    def rejected(self, record_type: str, reason: str) -> None:
        self.records.labels(record_type, "rejected", reason).inc()

    def exposition(self) -> bytes:
        """The Prometheus text of this process, or of all workers in shared mode."""
        if self.shared_dir is None:
            return generate_latest(self.registry)
        self.queue_depth.set(self._depth())
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    async def sample_forever(self) -> None:
        """Shared mode: write this worker's queue depth every second (a scrape served by
        another worker reads it from the shared files)."""
        if self.shared_dir is None:
            return
        while True:
            self.queue_depth.set(self._depth())
            await asyncio.sleep(SAMPLE_SECONDS)
