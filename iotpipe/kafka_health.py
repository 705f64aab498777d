"""Partition health as Kafka's metadata tells it: the brokers it lists, and per topic the
partitions that are under-replicated (fewer in-sync replicas than replicas) or offline
(no leader). One reading for everything that reports on a cluster: the sink's /metrics
(``sink.cluster``) and ``iotpipe stack status`` (``iotpipe.stack.cluster``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["ClusterView", "TopicHealth", "cluster_view"]


@dataclass(frozen=True)
class TopicHealth:
    partitions: int
    under_replicated: tuple[int, ...]  # partitions whose ISR is smaller than their replicas
    offline: tuple[int, ...]  # partitions without a leader


@dataclass(frozen=True)
class ClusterView:
    brokers: tuple[int, ...]  # the brokers the metadata lists (registered and up)
    topics: dict[str, TopicHealth]
    missing: tuple[str, ...] = ()  # topics the cluster does not know

    def under_replicated(self) -> list[tuple[str, int]]:
        return sorted((n, p) for n, h in self.topics.items() for p in h.under_replicated)

    def offline(self) -> list[tuple[str, int]]:
        return sorted((n, p) for n, h in self.topics.items() for p in h.offline)


def cluster_view(metadata: Any, topics: Iterable[str] | None = None) -> ClusterView:
    """Brokers and per-topic partition health from a ``ClusterMetadata`` (a client's
    ``list_topics``), for ``topics`` or, with None, every topic it lists."""
    found: dict[str, TopicHealth] = {}
    missing = []
    for name in metadata.topics if topics is None else topics:
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            missing.append(name)
            continue
        partitions = sorted(topic.partitions.values(), key=lambda p: p.id)
        found[name] = TopicHealth(
            partitions=len(partitions),
            under_replicated=tuple(p.id for p in partitions if len(p.isrs) < len(p.replicas)),
            offline=tuple(p.id for p in partitions if p.leader < 0),
        )
    return ClusterView(tuple(sorted(metadata.brokers)), found, tuple(missing))
