"""The pipeline's Kafka topics: what they must look like, and making them so.

``sensor-data`` and its dead-letter topic are created by an operator (``iotpipe topics
ensure``, run by the compose ``init`` service) rather than by a broker's auto-creation,
so partitions, replication and ``min.insync.replicas`` are chosen, not inherited. Ensuring
is idempotent: a missing topic is created, a topic with fewer partitions than asked
grows, configs that differ are set, and what Kafka cannot change in place (fewer
partitions, another replication factor) is reported instead of being papered over.

The logic here is pure over the small :class:`TopicAdmin` port; the real adapter over
confluent-kafka's AdminClient is :mod:`iotpipe.kafka_admin`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from iotpipe.contract.catalog import DLQ_TOPIC, TOPIC
from iotpipe.devices.topic import DEVICES_TOPIC
from iotpipe.errors import ConfigError, KafkaAdminError

__all__ = [
    "DEFAULT_PARTITIONS",
    "DEFAULT_RETENTION_HOURS",
    "JOBS_TOPIC",
    "MANAGED_CONFIGS",
    "EnsureReport",
    "TopicAdmin",
    "TopicSettings",
    "TopicSpec",
    "TopicState",
    "cluster_topic_settings",
    "devices_topic_spec",
    "dlq_name",
    "ensure_topics",
    "jobs_topic_spec",
    "pipeline_topics",
]

DEFAULT_PARTITIONS = 6  # room for six sink members in one consumer group
DEFAULT_RETENTION_HOURS = 168.0  # ingest accepts readings up to 7 days old
# The topic configs that ensure sets and list shows; everything else stays the broker's.
MANAGED_CONFIGS = ("min.insync.replicas", "retention.ms", "cleanup.policy")
_DLQ_SUFFIX = DLQ_TOPIC.removeprefix(TOPIC)  # ".dlq"
JOBS_TOPIC = "iotpipe.jobs"  # ingest's backfill job state (ingest.jobs)


def dlq_name(topic: str) -> str:
    """The dead-letter topic of ``topic`` (``sensor-data`` -> ``sensor-data.dlq``)."""
    return f"{topic}{_DLQ_SUFFIX}"


@dataclass(frozen=True)
class TopicSpec:
    """What a topic must look like. ``partitions`` is a minimum: Kafka cannot shrink."""

    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicSettings:
    """Partitions and durability of the pipeline's topics on a cluster of a given size."""

    partitions: int
    replication_factor: int
    min_insync_replicas: int


def cluster_topic_settings(brokers: int) -> TopicSettings:
    """The topic settings of ``compose/kafka-cluster.env`` (the source compose reads too)
    for a cluster of ``brokers`` nodes: on 3, RF 3 and min.insync.replicas 2; on 1, 1 and 1."""
    from iotpipe.cluster import load_profile  # noqa: PLC0415 - reads a file; only here

    return TopicSettings(*load_profile().topic_numbers(brokers))


@dataclass(frozen=True)
class TopicState:
    """What a topic looks like now; ``configs`` holds the effective MANAGED_CONFIGS."""

    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)


class TopicAdmin(Protocol):
    """The Kafka operations ensure needs (real adapter: iotpipe.kafka_admin.KafkaTopicAdmin)."""

    @property
    def where(self) -> str:
        """The cluster, for messages (its bootstrap servers)."""
        ...

    def broker_count(self) -> int: ...

    def describe(self, names: Sequence[str]) -> dict[str, TopicState]:
        """The named topics that exist (missing ones are left out)."""
        ...

    def create(self, spec: TopicSpec) -> bool:
        """Create the topic; False if it already existed (created meanwhile by another)."""
        ...

    def add_partitions(self, name: str, total: int) -> None: ...

    def set_configs(self, name: str, configs: Mapping[str, str]) -> None: ...


@dataclass
class EnsureReport:
    """What ensure did (``done``) and what it could not make as asked (``problems``)."""

    done: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def pipeline_topics(
    *,
    topic: str = TOPIC,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
    retention_hours: float = DEFAULT_RETENTION_HOURS,
) -> tuple[TopicSpec, TopicSpec]:
    """The main topic and its dead-letter topic, with the same durability settings."""
    if not topic or any(c.isspace() for c in topic):
        raise ConfigError(f"topic name {topic!r} is empty or holds white space")
    if partitions < 1:
        raise ConfigError(f"partitions must be at least 1 (got {partitions})")
    if replication_factor < 1:
        raise ConfigError(f"replication factor must be at least 1 (got {replication_factor})")
    if not 1 <= min_insync_replicas <= replication_factor:
        raise ConfigError(
            f"min.insync.replicas must be between 1 and the replication factor "
            f"{replication_factor} (got {min_insync_replicas}); with acks=all a higher value "
            "would refuse every write"
        )
    if retention_hours <= 0:
        raise ConfigError(f"retention must be a positive number of hours (got {retention_hours})")
    configs = {
        "min.insync.replicas": str(min_insync_replicas),
        "retention.ms": str(round(retention_hours * 3_600_000)),
        "cleanup.policy": "delete",
    }
    main = TopicSpec(topic, partitions, replication_factor, configs)
    return main, TopicSpec(dlq_name(topic), partitions, replication_factor, configs)


def devices_topic_spec(
    *,
    topic: str = DEVICES_TOPIC,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
) -> TopicSpec:
    """The device registry (:mod:`iotpipe.devices.topic`): compacted and kept forever,
    since the latest record of each box *is* the registry. One partition: a few thousand
    boxes need no more, and every reader reads all partitions anyway."""
    return _compacted(topic, replication_factor, min_insync_replicas)


def jobs_topic_spec(
    *,
    topic: str = JOBS_TOPIC,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
) -> TopicSpec:
    """ingest's backfill jobs (:mod:`ingest.jobs`): compacted and kept forever, since the
    latest record of each job is its state; one partition keeps a job's writes in order."""
    return _compacted(topic, replication_factor, min_insync_replicas)


def _compacted(topic: str, replication_factor: int, min_insync_replicas: int) -> TopicSpec:
    """A state topic: one partition (order), compacted, every key's latest record kept
    forever. The name and numbers are checked as for the pipeline's topics."""
    pipeline_topics(
        topic=topic,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
    )  # the same checks, one message each
    configs = {
        "min.insync.replicas": str(min_insync_replicas),
        "retention.ms": "-1",
        "cleanup.policy": "compact",
    }
    return TopicSpec(topic, 1, replication_factor, configs)


def _describe_new(spec: TopicSpec) -> str:
    hours = int(spec.configs.get("retention.ms", "0")) / 3_600_000
    retention = "forever" if hours < 0 else f"{hours:g} h"
    compact = ", compacted" if spec.configs.get("cleanup.policy") == "compact" else ""
    return (
        f"{spec.name}: created ({spec.partitions} partitions, replication factor "
        f"{spec.replication_factor}, min.insync.replicas "
        f"{spec.configs.get('min.insync.replicas', '?')}, retention {retention}{compact})"
    )


def _reconcile(admin: TopicAdmin, spec: TopicSpec, state: TopicState, report: EnsureReport) -> None:
    said = len(report.done) + len(report.problems)
    if state.partitions < spec.partitions:
        admin.add_partitions(spec.name, spec.partitions)
        report.done.append(
            f"{spec.name}: partitions {state.partitions} -> {spec.partitions} (records of a "
            "device written from now on may go to another partition than before)"
        )
    elif state.partitions > spec.partitions:
        report.done.append(
            f"{spec.name}: has {state.partitions} partitions, more than the {spec.partitions} "
            "asked; Kafka cannot remove partitions, so they stay"
        )
    differing = {k: v for k, v in spec.configs.items() if state.configs.get(k) != v}
    if differing:
        admin.set_configs(spec.name, differing)
        for key, value in sorted(differing.items()):
            was = state.configs.get(key, "unset")
            report.done.append(f"{spec.name}: {key} {was} -> {value}")
    if state.replication_factor != spec.replication_factor:
        report.problems.append(
            f"{spec.name}: replication factor is {state.replication_factor}, not "
            f"{spec.replication_factor}; changing it needs a partition reassignment "
            "(kafka-reassign-partitions.sh), which ensure does not do"
        )
    if len(report.done) + len(report.problems) == said:
        report.done.append(f"{spec.name}: already as asked")


def ensure_topics(admin: TopicAdmin, specs: Sequence[TopicSpec]) -> EnsureReport:
    """Create or adjust each topic so it matches its spec; idempotent.

    A replication factor larger than the cluster's broker count is refused before
    anything is created, with one sentence saying so.
    """
    report = EnsureReport()
    existing = admin.describe([spec.name for spec in specs])
    missing = [spec for spec in specs if spec.name not in existing]
    if missing:
        brokers = admin.broker_count()
        too_wide = max(spec.replication_factor for spec in missing)
        if too_wide > brokers:
            raise KafkaAdminError(
                f"replication factor {too_wide} needs at least {too_wide} brokers, but the "
                f"cluster at {admin.where} has {brokers}; ask for --replication-factor "
                f"{brokers} or fewer, or add brokers"
            )
    for spec in specs:
        state = existing.get(spec.name)
        if state is None:
            if admin.create(spec):
                report.done.append(_describe_new(spec))
                continue
            # Someone else created it between describe and create: adjust theirs.
            state = admin.describe([spec.name]).get(spec.name)
            if state is None:
                raise KafkaAdminError(f"{spec.name} exists, yet Kafka does not describe it")
        _reconcile(admin, spec, state, report)
    return report
