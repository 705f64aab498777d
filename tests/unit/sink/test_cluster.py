"""The cluster's health as the sink reports it, from fake metadata (no broker)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin._metadata import (
    BrokerMetadata,
    ClusterMetadata,
    PartitionMetadata,
    TopicMetadata,
)

from iotpipe.kafka_health import cluster_view
from sink.cluster import ClusterWatch
from sink.health import SinkMetrics
from sink.main import consumer_config
from sink.settings import SinkSettings


def partition(number: int, leader: int, replicas: list[int], isrs: list[int]) -> PartitionMetadata:
    found = PartitionMetadata()
    found.id, found.leader, found.replicas, found.isrs = number, leader, replicas, isrs
    return found


def topic(name: str, partitions: list[PartitionMetadata]) -> TopicMetadata:
    found = TopicMetadata()
    found.topic, found.partitions = name, {p.id: p for p in partitions}
    return found


def metadata(brokers: list[int], topics: list[TopicMetadata]) -> ClusterMetadata:
    found = ClusterMetadata()
    found.brokers = {b: BrokerMetadata() for b in brokers}
    found.topics = {str(t.topic): t for t in topics}
    return found


# Broker 3 is down: its replicas left the ISRs; partition 5 had it as its only in-sync
# replica and has no leader.
THREE_MINUS_ONE = metadata(
    [1, 2],
    [
        topic(
            "sensor-data",
            [
                partition(0, 1, [1, 2, 3], [1, 2]),
                partition(1, 2, [2, 3, 1], [2, 1]),
                partition(2, 1, [3, 1, 2], [1, 2, 3]),  # not yet out of the ISR
                partition(3, 1, [1, 2, 3], [1, 2, 3]),
                partition(4, 2, [2, 1, 3], [2]),
                partition(5, -1, [3, 1, 2], []),
            ],
        ),
        topic("sensor-data.dlq", [partition(0, 1, [1, 2, 3], [1, 2, 3])]),
    ],
)


class Source:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls = 0

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def poll(self, timeout: float = -1) -> int:
        return 0


def value(metrics: SinkMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_a_partition_with_fewer_in_sync_replicas_than_replicas_is_under_replicated() -> None:
    view = cluster_view(THREE_MINUS_ONE, ["sensor-data", "sensor-data.dlq"])
    assert view.brokers == (1, 2)
    assert view.topics["sensor-data"].partitions == 6
    assert view.topics["sensor-data"].under_replicated == (0, 1, 4, 5)
    assert view.topics["sensor-data"].offline == (5,)
    assert view.topics["sensor-data.dlq"].under_replicated == ()
    assert view.missing == ()


def test_one_broker_replication_factor_one_is_never_under_replicated() -> None:
    single = metadata([1], [topic("sensor-data", [partition(p, 1, [1], [1]) for p in range(3)])])
    view = cluster_view(single, ["sensor-data"])
    assert view.brokers == (1,)
    assert view.topics["sensor-data"].under_replicated == ()


def test_a_topic_the_cluster_does_not_know_is_reported_missing() -> None:
    errored = TopicMetadata()
    errored.topic, errored.error = "gone", KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)
    view = cluster_view(metadata([1], [errored]), ["gone", "never"])
    assert view.topics == {}
    assert view.missing == ("gone", "never")


def test_the_watch_sets_the_gauges_and_keeps_them_when_no_broker_answers() -> None:
    metrics = SinkMetrics()
    source = Source(THREE_MINUS_ONE)
    watch = ClusterWatch(source, ["sensor-data", "sensor-data.dlq"], metrics, interval=15)
    assert watch.refresh() is not None
    urp = "iotpipe_sink_topic_under_replicated_partitions"
    assert value(metrics, "iotpipe_sink_kafka_brokers_up") == 2
    assert value(metrics, urp, topic="sensor-data") == 4
    assert value(metrics, urp, topic="sensor-data.dlq") == 0
    assert value(metrics, "iotpipe_sink_topic_offline_partitions", topic="sensor-data") == 1

    source.answer = KafkaException(KafkaError(KafkaError._TRANSPORT, "all brokers down"))
    assert watch.refresh() is None
    assert value(metrics, "iotpipe_sink_kafka_brokers_up") == 0
    assert value(metrics, urp, topic="sensor-data") == 4  # last known, not a made-up 0
    assert value(metrics, "iotpipe_sink_cluster_metadata_errors_total") == 1


def test_the_watch_reads_at_start_then_every_interval_until_closed() -> None:
    metrics = SinkMetrics()
    source = Source(THREE_MINUS_ONE)
    watch = ClusterWatch(source, ["sensor-data"], metrics, interval=0.01)
    watch.start()
    deadline = time.monotonic() + 5
    while source.calls < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    watch.close()
    calls = source.calls
    assert calls >= 3
    time.sleep(0.05)
    assert source.calls == calls  # stopped


@pytest.mark.parametrize("strategy", ["cooperative-sticky", "range"])
def test_the_consumer_uses_the_configured_assignment_strategy(strategy: str) -> None:
    settings = SinkSettings(assignment_strategy=strategy)
    config = consumer_config(settings, "127.0.0.1:9092")
    assert config["partition.assignment.strategy"] == strategy
    assert SinkSettings().assignment_strategy == "cooperative-sticky"
    assert config["enable.auto.commit"] is False
