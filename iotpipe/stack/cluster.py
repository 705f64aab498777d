"""The local Kafka cluster as a whole: who is up, who leads, what is under-replicated,
and the pipeline's topics made as the cluster profile says.

Brokers and partitions come from Kafka's metadata (what any client sees). The active
KRaft controller is not in that metadata (a KRaft broker names a random live broker as
"controller"), so it is read from the quorum state each node keeps beside its metadata
log (``__cluster_metadata-0/quorum-state``): the leader with the highest epoch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from iotpipe.errors import KafkaAdminError, KafkaUnavailable
from iotpipe.kafka_health import cluster_view
from iotpipe.stack.probes import quiet_admin
from iotpipe.stack.settings import StackLayout

__all__ = ["ClusterStatus", "ensure_cluster_topics", "quorum_leader", "read_cluster"]


@dataclass(frozen=True)
class ClusterStatus:
    """The cluster as its metadata says now; ``problem`` is set when nobody answered."""

    expected: int  # nodes in the layout
    brokers: list[int] = field(default_factory=list)  # node ids that are up
    controller: int | None = None  # the active KRaft controller's node id
    under_replicated: list[tuple[str, int]] = field(default_factory=list)
    offline: list[tuple[str, int]] = field(default_factory=list)  # no leader
    problem: str | None = None

    @property
    def healthy(self) -> bool:
        return (
            self.problem is None
            and len(self.brokers) == self.expected
            and not self.under_replicated
            and not self.offline
        )

    def summary(self) -> str:
        if self.problem is not None:
            return f"cluster: {self.problem}"
        controller = "unknown" if self.controller is None else f"node {self.controller}"
        return (
            f"cluster: {len(self.brokers)} of {self.expected} brokers up "
            f"({', '.join(map(str, self.brokers)) or 'none'}), active controller {controller}, "
            f"{len(self.under_replicated)} under-replicated and {len(self.offline)} offline "
            "partitions"
        )


def quorum_leader(state_dir: Path, layout: StackLayout) -> int | None:
    """The KRaft quorum's leader as the nodes' quorum-state files record it."""
    best: tuple[int, int] | None = None  # (epoch, leader)
    for node in layout.kafka_nodes:
        path = state_dir / node.name / "data" / "__cluster_metadata-0" / "quorum-state"
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        leader, epoch = int(state.get("leaderId", -1)), int(state.get("leaderEpoch", -1))
        if leader >= 0 and (best is None or epoch > best[0]):
            best = (epoch, leader)
    return None if best is None else best[1]


def read_cluster(layout: StackLayout, state_dir: Path, *, timeout: float = 5.0) -> ClusterStatus:
    expected = layout.brokers
    try:
        metadata = quiet_admin(layout.kafka_bootstrap, timeout).list_topics(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - KafkaException and friends: nobody answered
        return ClusterStatus(expected, problem=f"no metadata from {layout.kafka_bootstrap}: {exc}")
    view = cluster_view(metadata)
    offline = view.offline()
    return ClusterStatus(
        expected,
        brokers=list(view.brokers),
        controller=quorum_leader(state_dir, layout),
        # An offline partition is listed as offline only (it has no leader to lag behind).
        under_replicated=[key for key in view.under_replicated() if key not in offline],
        offline=offline,
    )


def ensure_cluster_topics(layout: StackLayout, *, timeout: float = 60.0) -> list[str]:
    """Make sensor-data, its DLQ, the device registry and the jobs topic as
    ``compose/kafka-cluster.env`` says for this many brokers; the lines say what was done.

    Waits first until every node has joined (a replication factor of 3 needs 3)."""
    from iotpipe.kafka_admin import KafkaTopicAdmin  # noqa: PLC0415
    from iotpipe.topics import (  # noqa: PLC0415
        cluster_topic_settings,
        devices_topic_spec,
        ensure_topics,
        jobs_topic_spec,
        pipeline_topics,
    )

    admin = KafkaTopicAdmin(layout.kafka_bootstrap, timeout=15)
    deadline = time.monotonic() + timeout
    while (count := admin.broker_count()) < layout.brokers:
        if time.monotonic() > deadline:
            raise KafkaUnavailable(
                f"only {count} of {layout.brokers} brokers joined within {timeout:g} s"
            )
        time.sleep(0.5)
    settings = cluster_topic_settings(layout.brokers)
    factor, insync = settings.replication_factor, settings.min_insync_replicas
    specs = [
        *pipeline_topics(
            partitions=settings.partitions, replication_factor=factor, min_insync_replicas=insync
        ),
        devices_topic_spec(replication_factor=factor, min_insync_replicas=insync),
        jobs_topic_spec(replication_factor=factor, min_insync_replicas=insync),
    ]
    try:
        report = ensure_topics(admin, specs)
    except KafkaAdminError as exc:
        return [f"not made: {exc}"]
    return [*report.done, *(f"not as asked: {p}" for p in report.problems)]
