"""The cluster, for its operator: Kafka brokers and partition health of the sink's
topics, the sink replicas' consumer group (partitions per replica, rebalances, lag per
partition) and dead letters; all from the sinks' /metrics (Prometheus scrapes every
replica). What each panel means and what to do: docs/operations/cluster.md."""

from __future__ import annotations

from grafana_foundation_sdk.builders import stat, timeseries

from iotpipe.dashboards.board import Board
from iotpipe.dashboards.queries import PromPanel

__all__ = [
    "ASSIGNED_BY_REPLICA",
    "BROKERS_UP",
    "DEAD_LETTER_RATE",
    "LAG_BY_PARTITION",
    "LAG_TOTAL",
    "OFFLINE",
    "REBALANCES",
    "SINK_REPLICAS",
    "UNDER_REPLICATED",
    "cluster_health",
]

RATE = "[$__rate_interval]"

# Every replica reads the same cluster metadata: max across replicas, per topic.
UNDER_REPLICATED = "max by (topic) (iotpipe_sink_topic_under_replicated_partitions)"
OFFLINE = "max by (topic) (iotpipe_sink_topic_offline_partitions)"
BROKERS_UP = "max(iotpipe_sink_kafka_brokers_up)"
# Each partition's lag is reported by the replica that holds it (and only by it).
LAG_BY_PARTITION = "sum by (partition) (iotpipe_sink_consumer_lag)"
LAG_TOTAL = "sum(iotpipe_sink_consumer_lag)"
ASSIGNED_BY_REPLICA = "sum by (instance) (iotpipe_sink_assigned_partitions)"
SINK_REPLICAS = 'sum(up{job="sink"})'
REBALANCES = f"sum by (kind) (increase(iotpipe_sink_rebalances_total{RATE}))"
DEAD_LETTER_RATE = f"sum by (reason) (rate(iotpipe_sink_dead_letters_total{RATE}))"


def cluster_health() -> Board:
    board = Board(
        "iotpipe-cluster",
        "iotpipe / Cluster",
        "Kafka brokers and partition health, the sink replicas' consumer group and dead "
        "letters (Prometheus, every sink replica). See docs/operations/cluster.md.",
    )
    stats = [
        ("Brokers up", BROKERS_UP, "Kafka brokers in the cluster metadata the sinks read."),
        (
            "Under-replicated partitions",
            f"sum({UNDER_REPLICATED})",
            "Partitions of sensor-data and its DLQ with fewer in-sync replicas than "
            "replicas: one more broker failure away from refusing writes.",
        ),
        (
            "Offline partitions",
            f"sum({OFFLINE})",
            "Partitions without a leader: neither ingest nor the sink can use them.",
        ),
        ("Sink replicas up", SINK_REPLICAS, "Sink replicas Prometheus scrapes successfully."),
    ]
    for title, expr, description in stats:
        board.add(
            stat.Panel().unit("short"),
            title,
            [PromPanel(expr)],
            width=6,
            height=5,
            description=description,
        )
    board.row("Consumer group")
    board.add(
        timeseries.Panel().unit("short"),
        "Consumer lag by partition",
        [PromPanel(LAG_BY_PARTITION, "partition {{partition}}")],
        width=12,
        description="Records of each partition not yet stored, reported by the replica "
        "holding it. One partition climbing alone: a hot key or a stuck replica; all "
        "climbing: the sinks (or the database) are short of capacity.",
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Assigned partitions by sink replica",
        [PromPanel(ASSIGNED_BY_REPLICA, "{{instance}}")],
        width=12,
        description="The group's share-out. A replica at 0 is idle (more replicas than "
        "partitions) or has not joined.",
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Rebalances, by kind",
        [PromPanel(REBALANCES, "{{kind}}")],
        width=12,
        description="Rebalance events that moved partitions (all replicas): assigned, "
        "revoked (handed over), lost (a member's session expired). Bursts follow a "
        "replica starting or stopping; a steady stream is a storm.",
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Dead letters per second, by reason",
        [PromPanel(DEAD_LETTER_RATE, "{{reason}}")],
        width=12,
        description="Records sent to sensor-data.dlq (iotpipe dlq list / replay).",
    )
    board.row("Kafka")
    board.add(
        timeseries.Panel().unit("short"),
        "Under-replicated and offline partitions, by topic",
        [
            PromPanel(UNDER_REPLICATED, "under-replicated {{topic}}"),
            PromPanel(OFFLINE, "offline {{topic}}", "B"),
        ],
        width=12,
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Brokers up and metadata failures",
        [
            PromPanel(BROKERS_UP, "brokers"),
            PromPanel(
                f"sum(increase(iotpipe_sink_cluster_metadata_errors_total{RATE}))",
                "metadata read failures",
                "B",
            ),
        ],
        width=12,
        description="From the cluster metadata; a failure means no broker answered a sink.",
    )
    return board
