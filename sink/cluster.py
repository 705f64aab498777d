"""What the sink sees of the Kafka cluster, for its /metrics: brokers up, and partitions
of its topics that are under-replicated (fewer in-sync replicas than replicas) or offline
(no leader). Read from cluster metadata by a thread of its own, every
``cluster_check_seconds``, never on the consume loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from confluent_kafka import KafkaException

from iotpipe.kafka_health import ClusterView, cluster_view
from sink.health import SinkMetrics

__all__ = ["ClusterWatch", "MetadataSource"]

log = logging.getLogger("iotpipe.sink.cluster")


class MetadataSource(Protocol):
    """What reads cluster metadata: an AdminClient (or a Consumer) has it."""

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any: ...

    def poll(self, timeout: float = -1) -> int:
        """Serves the client's queued log lines (handed to its Python logger only here)."""
        ...


class ClusterWatch:
    """Reads the metadata now and then every ``interval`` seconds, and sets the gauges.

    When the metadata cannot be read (no broker answers), brokers up is 0, the partition
    gauges keep their last values and ``iotpipe_sink_cluster_metadata_errors`` counts it.
    """

    def __init__(
        self,
        source: MetadataSource,
        topics: Iterable[str],
        metrics: SinkMetrics,
        *,
        interval: float,
        timeout: float = 10.0,
    ) -> None:
        self._source = source
        self._topics = tuple(topics)
        self._metrics = metrics
        self._interval = interval
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: ClusterView | None = None

    def refresh(self) -> ClusterView | None:
        try:
            metadata = self._source.list_topics(timeout=self._timeout)
        except KafkaException as exc:
            self._source.poll(0)
            self._metrics.cluster_metadata_errors.inc()
            self._metrics.brokers_up.set(0)
            log.warning("cluster metadata unavailable: %s", exc)
            return None
        self._source.poll(0)
        view = cluster_view(metadata, self._topics)
        self._metrics.brokers_up.set(len(view.brokers))
        for name, health in view.topics.items():
            self._metrics.under_replicated.labels(name).set(len(health.under_replicated))
            self._metrics.offline_partitions.labels(name).set(len(health.offline))
        for name in view.missing:
            # Unknown to the cluster (not created, or deleted): nothing to report on.
            self._metrics.under_replicated.remove(name)
            self._metrics.offline_partitions.remove(name)
        if self.last is not None and view.topics != self.last.topics:
            for name, health in view.topics.items():
                if health.under_replicated or health.offline:
                    log.warning(
                        "%s: under-replicated partitions %s, offline %s",
                        name,
                        list(health.under_replicated),
                        list(health.offline),
                    )
        self.last = view
        return view

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="sink-cluster", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        self.refresh()
        while not self._stop.wait(self._interval):
            self.refresh()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._timeout + 1)
