"""Sink replicas in one group on the real stack: cooperative rebalancing (a member
joining takes partitions without stopping the others), every record stored once, and
what each replica reports of the group and the cluster on /metrics."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from iotpipe.processes import free_port_block
from iotpipe.stack.manager import Stack
from iotpipe.stack.settings import StackSettings
from sink.cluster import ClusterWatch
from sink.health import SinkMetrics
from tests.integration.sink.conftest import SinkWorld
from tests.support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
log = logging.getLogger(__name__)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def metric(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def lag_partitions(samples: Samples) -> set[str]:
    return {
        dict(labels)["partition"] for name, labels in samples if name == "iotpipe_sink_consumer_lag"
    }


def health(port: int) -> dict[str, int]:
    try:
        state = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
    except httpx.HTTPError:
        return {}
    return dict(state)


def wait_until(condition: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def start_sink(world: SinkWorld, port: int) -> None:
    world.env["IOTPIPE_SINK_HEALTH_PORT"] = str(port)
    world.start_sink()


@pytest.mark.parametrize("partitions", [6])
def test_a_second_sink_takes_half_while_the_first_keeps_consuming(
    sink_world: SinkWorld, partitions: int
) -> None:
    first, second = free_port(), free_port()
    start_sink(sink_world, first)
    assert wait_until(lambda: health(first).get("assigned_partitions") == 6, 60)
    # Its lag is reported per partition (statistics every 5 s): all six, before the join.
    sink_world.produce([sink_world.reading(i, f"dev-{i % 13}") for i in range(600)], spread=6)
    assert wait_until(lambda: len(lag_partitions(scrape(first))) == 6, 30)

    # The first member's partitions, sampled all along the join.
    held: list[int] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            if (count := health(first).get("assigned_partitions")) is not None:
                held.append(count)
            time.sleep(0.02)

    total = 600 + 40 * 100
    sampler = threading.Thread(target=sample)
    sampler.start()

    def stream() -> None:
        for chunk in range(40):  # ~10 s of readings, across the join
            base = 600 + chunk * 100
            sink_world.produce(
                [sink_world.reading(i, f"dev-{i % 13}") for i in range(base, base + 100)],
                spread=6,
            )
            time.sleep(0.25)

    producer = threading.Thread(target=stream)
    producer.start()
    try:
        time.sleep(1)
        start_sink(sink_world, second)
        shared = wait_until(
            lambda: (
                (
                    health(first).get("assigned_partitions"),
                    health(second).get("assigned_partitions"),
                )
                == (3, 3)
            ),
            60,
        )
    finally:
        producer.join()
        sampling.set()
        sampler.join()
    assert shared, (health(first), health(second))
    assert sink_world.wait_for(total) == total
    readings = sink_world.mongo[sink_world.database]["readings"]
    assert readings.count_documents({}) == total
    assert len(readings.distinct("event_id")) == total

    # Never stopped: the first member handed over three partitions and kept three all
    # along (an eager rebalance revokes all six, then assigns three: 9 assigned, 6 revoked).
    a, b = scrape(first), scrape(second)
    moved = "iotpipe_sink_rebalance_partitions_total"
    assert metric(a, moved, kind="assigned") == 6
    assert metric(a, moved, kind="revoked") == 3
    assert metric(a, moved, kind="lost") == 0
    assert metric(a, "iotpipe_sink_rebalances_total", kind="revoked") == 1
    assert metric(b, moved, kind="assigned") == 3
    assert metric(b, moved, kind="revoked") == 0
    assert metric(a, "iotpipe_sink_assigned_partitions") == 3
    assert metric(b, "iotpipe_sink_assigned_partitions") == 3
    assert held and min(held) == 3 and held[0] == 6, sorted(set(held))
    # Each partition's lag is reported by its owner only: the first member dropped the
    # labels of what it handed over.
    assert wait_until(lambda: len(lag_partitions(scrape(second))) == 3, 30)
    a_lag, b_lag = lag_partitions(scrape(first)), lag_partitions(scrape(second))
    assert a_lag.isdisjoint(b_lag) and a_lag | b_lag == {str(p) for p in range(6)}
    written = sum(
        metric(s, "iotpipe_sink_written_total", collection="readings") or 0.0 for s in (a, b)
    )
    skipped = sum(metric(s, "iotpipe_sink_duplicates_skipped_total") or 0.0 for s in (a, b))
    assert written == total
    log.warning("rebalance under load: %d stored once, %.0f re-read and skipped", total, skipped)


def test_a_sink_reports_the_brokers_and_no_under_replicated_partition_of_a_healthy_stack(
    sink_world: SinkWorld,
) -> None:
    admin = AdminClient({"bootstrap.servers": sink_world.endpoints["kafka"]})
    brokers = len(admin.list_topics(timeout=10).brokers)
    port = free_port()
    start_sink(sink_world, port)

    def reported() -> bool:
        # The gauge is 0 from the sink's start until its first metadata read (at start,
        # then every 15 s): a scrape in between saw 0 on a clean CI run.
        try:
            return metric(scrape(port), "iotpipe_sink_kafka_brokers_up") == brokers
        except httpx.HTTPError:
            return False

    assert brokers >= 1
    assert wait_until(reported, 60)
    samples = scrape(port)
    urp = "iotpipe_sink_topic_under_replicated_partitions"
    offline = "iotpipe_sink_topic_offline_partitions"
    for topic in (sink_world.topic, f"{sink_world.topic}.dlq"):
        assert metric(samples, urp, topic=topic) == 0
        assert metric(samples, offline, topic=topic) == 0
    assert metric(samples, "iotpipe_sink_cluster_metadata_errors_total") == 0


@pytest.fixture
def three_brokers(tmp_path: Path) -> Iterator[Stack]:
    """A private Kafka cluster of three nodes (no registry or database), wiped after."""
    kafka = free_port_block(6)
    stack = Stack(
        StackSettings(
            state_dir=tmp_path / "stack",
            brokers=3,
            kafka_port=kafka,
            kafka_controller_port=kafka + 1,
        ),
        console=Console(stderr=True),
    )
    try:
        stack.up(["kafka"])
        yield stack
    finally:
        stack.down(wipe=True)


@pytest.mark.timeout(420)
def test_a_dead_broker_shows_as_under_replicated_partitions_until_it_returns(
    three_brokers: Stack,
) -> None:
    bootstrap = three_brokers.layout().kafka_bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = f"it-urp-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=3)])[topic].result(60)
    metrics = SinkMetrics()
    watch = ClusterWatch(admin, [topic], metrics, interval=1)
    urp = "iotpipe_sink_topic_under_replicated_partitions"

    def seen() -> tuple[float | None, float | None]:
        watch.refresh()
        registry = metrics.registry
        return (
            registry.get_sample_value("iotpipe_sink_kafka_brokers_up"),
            registry.get_sample_value(urp, {"topic": topic}),
        )

    assert wait_until(lambda: seen() == (3, 0), 60, every=1), seen()
    victim = three_brokers.pid("kafka-3")
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    # Fenced after its session times out; its replicas leave the ISRs of every partition
    # (replication factor 3 on 3 brokers: all six hold one).
    assert wait_until(lambda: seen() == (2, 6), 120, every=1), seen()
    assert (
        metrics.registry.get_sample_value("iotpipe_sink_topic_offline_partitions", {"topic": topic})
        == 0
    )
    three_brokers.up(["kafka-3"])
    assert wait_until(lambda: seen() == (3, 0), 180, every=1), seen()
