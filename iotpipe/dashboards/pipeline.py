"""Pipeline health: ingest (requests, records accepted and rejected, produce latency,
producer queue), the sink (throughput, duplicates, dead letters, lag, batch time) from
Prometheus, and how fresh the stored data is from MongoDB."""

from __future__ import annotations

from grafana_foundation_sdk.builders import stat, timeseries

from iotpipe.dashboards.board import Board
from iotpipe.dashboards.queries import MongoPanel, PromPanel
from sink.documents import DEVICE_STATUS

__all__ = ["pipeline_health"]

LATEST_STORE = MongoPanel(
    DEVICE_STATUS,
    [
        {"$match": {"scope": "device"}},
        {"$sort": {"last_stored": -1}},
        {"$limit": 1},
        {"$project": {"_id": 0, "last_stored": 1}},
    ],
    {"last_stored": "time"},
)
RATE = "[$__rate_interval]"


def _rate(metric: str, by: str = "") -> str:
    grouped = f" by ({by})" if by else ""
    return f"sum{grouped} (rate({metric}{RATE}))"


def _quantile(q: float, metric: str) -> str:
    return f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{RATE})))"


def pipeline_health() -> Board:
    board = Board(
        "iotpipe-pipeline",
        "iotpipe / Pipeline health",
        "Ingest and sink metrics (Prometheus scrapes /metrics of every replica) and the "
        "freshness of stored data.",
    )
    board.add(
        stat.Panel().unit("dateTimeFromNow"),
        "Latest store",
        [LATEST_STORE],
        width=6,
        height=5,
        description="When the sink last stored a reading (any device).",
    )
    board.add(
        stat.Panel().unit("short"),
        "Consumer lag",
        [PromPanel("sum(iotpipe_sink_consumer_lag)")],
        width=6,
        height=5,
        description="Records in sensor-data not yet stored, all partitions.",
    )
    board.add(
        stat.Panel().unit("short"),
        "Sinks paused",
        [PromPanel("sum(iotpipe_sink_paused)")],
        width=6,
        height=5,
        description="Sink processes waiting for the database or registry to come back.",
    )
    board.add(
        stat.Panel().unit("short"),
        "Producer queue",
        [PromPanel("sum(iotpipe_ingest_producer_queue_depth)")],
        width=6,
        height=5,
        description="Records ingest handed to Kafka and still waiting for acknowledgement.",
    )
    board.row("Ingest")
    board.add(
        timeseries.Panel().unit("reqps"),
        "Requests by status",
        [PromPanel(_rate("iotpipe_ingest_requests_total", "status"), "{{status}}")],
        width=8,
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Records per second, by outcome",
        [
            PromPanel(
                _rate("iotpipe_ingest_records_total", "record_type, outcome"),
                "{{record_type}} {{outcome}}",
            )
        ],
        width=8,
    )
    board.add(
        timeseries.Panel().unit("s"),
        "Produce latency",
        [
            PromPanel(_quantile(0.5, "iotpipe_ingest_produce_latency_seconds"), "p50"),
            PromPanel(_quantile(0.99, "iotpipe_ingest_produce_latency_seconds"), "p99", "B"),
        ],
        width=8,
        description="From handing a request's records to Kafka until all were acknowledged.",
    )
    board.row("Sink")
    board.add(
        timeseries.Panel().unit("short"),
        "Consumed and written per second",
        [
            PromPanel(_rate("iotpipe_sink_consumed_total"), "consumed"),
            PromPanel(_rate("iotpipe_sink_written_total", "collection"), "{{collection}}", "B"),
            PromPanel(_rate("iotpipe_sink_duplicates_skipped_total"), "duplicates", "C"),
        ],
        width=8,
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Dead letters per second, by reason",
        [PromPanel(_rate("iotpipe_sink_dead_letters_total", "reason"), "{{reason}}")],
        width=8,
    )
    board.add(
        timeseries.Panel().unit("s"),
        "Batch time (decode, write, commit)",
        [
            PromPanel(_quantile(0.5, "iotpipe_sink_batch_seconds"), "p50"),
            PromPanel(_quantile(0.99, "iotpipe_sink_batch_seconds"), "p99", "B"),
        ],
        width=8,
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Consumer lag by partition",
        [PromPanel("sum by (partition) (iotpipe_sink_consumer_lag)", "partition {{partition}}")],
        width=24,
    )
    return board
