"""The sink in a rebalancing group (cooperative: only the partitions that move are
named), with a fake consumer: what it reports, what it commits, what it pauses."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from iotpipe.contract.catalog import Contract
from iotpipe.contract.serde import ContractSerde
from sink.runner import SinkRunner
from sink.store.memory import MemoryStore
from tests.unit.sink.fakes import FakeConsumer, FakeDeadLetters, FakeMessage
from tests.unit.sink.test_runner import HeldStore, reading, runner_for, running, wait_until

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def serde() -> ContractSerde:
    registry = SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})
    return ContractSerde(registry, Contract.load(), auto_register=True)


def spread(serde: ContractSerde, count: int, partitions: int) -> list[FakeMessage]:
    """``count`` readings, round robin over ``partitions`` (offsets per partition)."""
    found = []
    for i in range(count):
        record = reading(i)
        found.append(
            FakeMessage(
                "sensor-data",
                i % partitions,
                i // partitions,
                b"k",
                serde.encode(record),
                serde.headers(record),
            )
        )
    return found


def stats(lags: dict[int, int]) -> str:
    """librdkafka's statistics as the stats callback gets them (partition -1 is its
    internal "unassigned" one)."""
    partitions = {str(p): {"partition": p, "consumer_lag": lag} for p, lag in lags.items()}
    partitions["-1"] = {"partition": -1, "consumer_lag": -1}
    return json.dumps({"topics": {"sensor-data": {"partitions": partitions}}})


def lag_labels(runner: SinkRunner) -> dict[str, float]:
    found = {}
    for family in runner._metrics.registry.collect():
        if family.name == "iotpipe_sink_consumer_lag":
            found = {s.labels["partition"]: s.value for s in family.samples}
    return found


def sample(runner: SinkRunner, name: str, **labels: str) -> float | None:
    return runner._metrics.registry.get_sample_value(name, labels)


def settle(consumer: FakeConsumer) -> None:
    """Until the runner's loop has taken every queued event."""
    wait_until(lambda: not consumer.events)
    time.sleep(0.02)


def test_a_partition_that_leaves_takes_its_lag_label_with_it(serde: ContractSerde) -> None:
    consumer, store = FakeConsumer([]), HeldStore()
    runner = runner_for(consumer, serde, store, FakeDeadLetters())
    consumer.stats_cb = runner.on_stats
    with running(runner, store):
        consumer.rebalance("assign", [0, 1, 2])
        consumer.events.append(("stats", stats({0: 5, 1: 7, 2: 9})))
        settle(consumer)
        assert lag_labels(runner) == {"0": 5, "1": 7, "2": 9}
        assert runner.state()["assigned_partitions"] == 3

        consumer.rebalance("revoke", [1])  # another member joined and took it
        settle(consumer)
        assert lag_labels(runner) == {"0": 5, "2": 9}
        # librdkafka still knows partition 1 (and its last lag): not ours to report.
        consumer.events.append(("stats", stats({0: 4, 1: 7, 2: 8})))
        settle(consumer)
        assert lag_labels(runner) == {"0": 4, "2": 8}

        consumer.rebalance("lost", [2])  # our session expired: taken without hand-over
        settle(consumer)
        assert lag_labels(runner) == {"0": 4}

        consumer.rebalance("assign", [1])  # back again: reported again
        consumer.events.append(("stats", stats({0: 3, 1: 6, 2: 8})))
        settle(consumer)
        assert lag_labels(runner) == {"0": 3, "1": 6}

    moved = "iotpipe_sink_rebalance_partitions_total"
    events = "iotpipe_sink_rebalances_total"
    assert sample(runner, moved, kind="assigned") == 4
    assert sample(runner, moved, kind="revoked") == 1
    assert sample(runner, moved, kind="lost") == 1
    assert sample(runner, events, kind="assigned") == 2
    assert sample(runner, events, kind="revoked") == 1
    assert sample(runner, events, kind="lost") == 1
    assert sample(runner, "iotpipe_sink_assigned_partitions") == 2


def test_an_empty_assignment_round_counts_no_rebalance(serde: ContractSerde) -> None:
    """A cooperative rebalance has two rounds; a member the second round gives nothing
    is called with no partitions."""
    consumer, store = FakeConsumer([]), HeldStore()
    runner = runner_for(consumer, serde, store, FakeDeadLetters())
    with running(runner, store):
        consumer.rebalance("assign", [0, 1])
        consumer.rebalance("revoke", [1])
        consumer.rebalance("assign", [])
        settle(consumer)
    assert sample(runner, "iotpipe_sink_rebalances_total", kind="assigned") == 1
    assert sample(runner, "iotpipe_sink_assigned_partitions") == 1


def test_a_revoked_partition_s_batch_is_written_but_its_offsets_left_to_the_new_owner(
    serde: ContractSerde,
) -> None:
    records = spread(serde, 20, partitions=2)  # offsets 0..9 on each of 0 and 1
    consumer, store = FakeConsumer(records[:10]), HeldStore()
    consumer.rebalance("assign", [0, 1])
    runner = runner_for(consumer, serde, store, FakeDeadLetters())
    with running(runner, store):
        assert store.entered.acquire(timeout=5)  # offsets 0..4 of each partition, held
        consumer.rebalance("revoke", [1])  # handed over while its write is under way
        settle(consumer)
        store.go.release()
        wait_until(lambda: consumer.committed.get(("sensor-data", 0)) == 5)
        # Written (durable, idempotent), but not committed: the new owner reads it again
        # from the last commit, so nothing is lost even if this write had failed.
        assert ("sensor-data", 1) not in consumer.committed
        assert len(store.collections["readings"]) == 10

        consumer.rebalance("assign", [1])  # and back: its offsets are ours again
        consumer.messages.extend(records[10:])
        assert store.entered.acquire(timeout=5)
        store.go.release()
        wait_until(lambda: consumer.committed.get(("sensor-data", 1)) == 10)
    assert consumer.committed == {("sensor-data", 0): 10, ("sensor-data", 1): 10}
    assert len(store.collections["readings"]) == 20


def test_partitions_assigned_while_paused_are_paused_at_once(serde: ContractSerde) -> None:
    records = spread(serde, 4, partitions=1)
    consumer, store = FakeConsumer([]), MemoryStore()
    consumer.rebalance("assign", [0])
    runner = runner_for(consumer, serde, store, FakeDeadLetters())
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        settle(consumer)
        store.down = True
        consumer.messages.extend(records)
        wait_until(lambda: runner.state()["paused"])  # the database is away
        consumer.rebalance("assign", [3])
        settle(consumer)
        # Assigned by the sink itself (not left to the client), then paused with the rest,
        # so none of its records flows while the database is away.
        assert [[p.partition for p in ps] for ps in consumer.assigned_by_app] == [[3]]
        assert ("sensor-data", 3) in consumer.paused_partitions
        store.down = False
        wait_until(lambda: consumer.committed.get(("sensor-data", 0)) == 4)
    finally:
        runner.stop.set()
        thread.join(10)
    assert len(store.collections["readings"]) == 4


def test_a_commit_refused_in_a_rebalance_is_made_later_for_a_partition_kept(
    serde: ContractSerde,
) -> None:
    """Kafka refuses a commit during a rebalance (ILLEGAL_GENERATION). For a partition
    this member keeps and that gets no new record, nothing would commit it again: its lag
    would stay above zero for good. The owed offsets are committed when idle."""
    consumer, store = FakeConsumer(spread(serde, 12, 2)), MemoryStore()
    consumer.refuse_commits = 1
    runner = runner_for(consumer, serde, store, FakeDeadLetters())
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        wait_until(
            lambda: consumer.committed == {("sensor-data", 0): 6, ("sensor-data", 1): 6},
            timeout=10,
        )
    finally:
        runner.stop.set()
        thread.join(10)
    assert sample(runner, "iotpipe_sink_commit_failures_total") == 1
    assert len(store.collections["readings"]) == 12
