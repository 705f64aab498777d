"""Metrics and a small health endpoint for the sink: ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["REBALANCE_KINDS", "SinkMetrics", "serve_health"]

REBALANCE_KINDS = ("assigned", "revoked", "lost")


class SinkMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.consumed = Counter("iotpipe_sink_consumed", "Records consumed.", registry=r)
        self.written = Counter(
            "iotpipe_sink_written", "Documents inserted.", ["collection"], registry=r
        )
        self.duplicates = Counter(
            "iotpipe_sink_duplicates_skipped", "Records already stored (redeliveries).", registry=r
        )
        self.dead_letters = Counter(
            "iotpipe_sink_dead_letters", "Records sent to the DLQ.", ["reason"], registry=r
        )
        self.batch_seconds = Histogram(
            "iotpipe_sink_batch_seconds",
            "From a batch's first record decoded to its offsets committed (its wait for the "
            "write before it included).",
            registry=r,
        )
        self.write_seconds = Histogram(
            "iotpipe_sink_write_seconds",
            "From a batch handed to the database (its stored_time) to its offsets committed.",
            registry=r,
        )
        self.lag = Gauge(
            "iotpipe_sink_consumer_lag",
            "Records behind the end, per partition.",
            ["partition"],
            registry=r,
        )
        # The group: this member's share of the partitions and how often it changes.
        self.assigned = Gauge(
            "iotpipe_sink_assigned_partitions",
            "Partitions this sink holds in its consumer group.",
            registry=r,
        )
        self.rebalances = Counter(
            "iotpipe_sink_rebalances",
            "Rebalance events that changed this sink's partitions, by kind (assigned, "
            "revoked: handed to another member; lost: taken without a hand-over).",
            ["kind"],
            registry=r,
        )
        self.rebalance_partitions = Counter(
            "iotpipe_sink_rebalance_partitions",
            "Partitions moved by rebalances, by kind (assigned, revoked, lost).",
            ["kind"],
            registry=r,
        )
        for kind in REBALANCE_KINDS:  # present at 0, so rate() sees the first one
            self.rebalances.labels(kind)
            self.rebalance_partitions.labels(kind)
        # The cluster, from its metadata (sink.cluster).
        self.brokers_up = Gauge(
            "iotpipe_sink_kafka_brokers_up",
            "Kafka brokers the cluster metadata lists (0 when none answers).",
            registry=r,
        )
        self.under_replicated = Gauge(
            "iotpipe_sink_topic_under_replicated_partitions",
            "Partitions of the sink's topics with fewer in-sync replicas than replicas.",
            ["topic"],
            registry=r,
        )
        self.offline_partitions = Gauge(
            "iotpipe_sink_topic_offline_partitions",
            "Partitions of the sink's topics without a leader (neither readable nor writable).",
            ["topic"],
            registry=r,
        )
        self.cluster_metadata_errors = Counter(
            "iotpipe_sink_cluster_metadata_errors",
            "Cluster metadata reads that failed (no broker answered in time).",
            registry=r,
        )
        self.paused = Gauge("iotpipe_sink_paused", "1 while consumption is paused.", registry=r)
        self.commit_failures = Counter(
            "iotpipe_sink_commit_failures",
            "Offset commits Kafka refused (in a rebalance); retried until they succeed or "
            "the partition moves.",
            registry=r,
        )
        self.views_pending = Gauge(
            "iotpipe_sink_views_pending", "Stored readings not yet in the rollups.", registry=r
        )
        self.views_flush_seconds = Histogram(
            "iotpipe_sink_views_flush_seconds", "Time to write one flush of rollups.", registry=r
        )


def serve_health(
    host: str, port: int, metrics: SinkMetrics, state: Callable[[], dict[str, Any]]
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, ctype = generate_latest(metrics.registry), CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                body, ctype = json.dumps({"status": "ok", **state()}).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="sink-health", daemon=True).start()
    return server
