"""The sink loop with a fake consumer, the in-memory store and a ``mock://`` registry."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from generated.models import DeviceEvent, SensorReading
from iotpipe.contract.catalog import Contract
from iotpipe.contract.serde import ContractSerde
from iotpipe.paths import REPO_DIR
from sink.health import SinkMetrics
from sink.runner import SinkRunner
from sink.settings import SinkSettings
from sink.store import WriteResult
from sink.store.memory import MemoryStore
from tests.unit.sink.fakes import FakeConsumer, FakeDeadLetters, FakeMessage

EXAMPLES = REPO_DIR / "generated" / "examples"
BASE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def serde() -> ContractSerde:
    registry = SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})
    return ContractSerde(registry, Contract.load(), auto_register=True)


def reading(i: int, sensor: str = "t1") -> SensorReading:
    data: dict[str, Any] = json.loads((EXAMPLES / "dev.iotpipe.SensorReading.json").read_text())
    data.update(
        event_id=str(uuid.uuid4()),
        sensor_id=sensor,
        value=float(i),
        event_time=BASE + timedelta(seconds=i),
    )
    return SensorReading.model_validate(data)


def messages(serde: ContractSerde, records: list[Any]) -> list[FakeMessage]:
    return [
        FakeMessage("sensor-data", 0, offset, b"k", serde.encode(r), serde.headers(r))
        for offset, r in enumerate(records)
    ]


def runner_for(
    consumer: FakeConsumer,
    serde: ContractSerde,
    store: MemoryStore,
    dlq: FakeDeadLetters,
    **settings: Any,
) -> SinkRunner:
    config = SinkSettings(
        batch_max_records=50,
        retry_initial_seconds=0.01,
        retry_max_seconds=0.02,
        **{"views_flush_seconds": 0, **settings},
    )
    fake_consumer: Any = consumer
    fake_dlq: Any = dlq
    return SinkRunner(
        consumer=fake_consumer,
        serde=serde,
        store=store,
        dead_letters=fake_dlq,
        settings=config,
        metrics=SinkMetrics(),
    )


def run_until_drained(runner: SinkRunner, consumer: FakeConsumer) -> None:
    def stop_when_done() -> None:
        """Once every record was read and its offset committed (not merely read: a write
        still retrying when the stop comes is left for redelivery, as it should be)."""
        ends: dict[tuple[str, int], int] = {}
        for m in consumer.messages:
            key = (m.topic(), m.partition())
            ends[key] = max(ends.get(key, 0), m.offset() + 1)
        deadline = time.monotonic() + 30
        while (
            consumer.position < len(consumer.messages)
            or consumer.paused
            or consumer.committed != ends
        ) and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        threading.Event().wait(0.05)
        runner.stop.set()

    watcher = threading.Thread(target=stop_when_done)
    watcher.start()
    runner.run()
    watcher.join()


def test_every_record_is_stored_once_and_offsets_committed_after(serde: ContractSerde) -> None:
    records: list[Any] = [reading(i) for i in range(120)]
    event = json.loads((EXAMPLES / "dev.iotpipe.DeviceEvent.json").read_text())
    records.append(DeviceEvent.model_validate(event))
    consumer, store, dlq = FakeConsumer(messages(serde, records)), MemoryStore(), FakeDeadLetters()
    run_until_drained(runner_for(consumer, serde, store, dlq), consumer)
    assert len(store.collections["readings"]) == 120
    assert len(store.collections["device_events"]) == 1
    assert consumer.committed == {("sensor-data", 0): 121}
    assert consumer.closed
    stored = store.collections["readings"][str(records[5].event_id)]
    assert stored["value"] == 5.0 and stored["source"] == "0:5"
    assert stored["sensor_kind"] == "TEMPERATURE" and isinstance(stored["event_id"], str)


def test_redelivery_stores_no_duplicate(serde: ContractSerde) -> None:
    records = [reading(i) for i in range(30)]
    batch = messages(serde, records)
    consumer = FakeConsumer(batch + batch)  # the same records again, as after a crash
    store = MemoryStore()
    run_until_drained(runner_for(consumer, serde, store, FakeDeadLetters()), consumer)
    assert len(store.collections["readings"]) == 30


def test_poison_goes_to_the_dlq_and_the_partition_keeps_flowing(serde: ContractSerde) -> None:
    batch = messages(serde, [reading(i) for i in range(10)])
    poison = FakeMessage(
        "sensor-data",
        0,
        5,
        b"k",
        b"\x00\x00\x00\x00\x07garbage",
        [("iotpipe-record-type", b"dev.iotpipe.SensorReading")],
    )
    batch = (
        batch[:5]
        + [poison]
        + [
            FakeMessage("sensor-data", 0, m.offset() + 1, m.key(), m.value(), m.headers())
            for m in batch[5:]
        ]
    )
    consumer, store, dlq = FakeConsumer(batch), MemoryStore(), FakeDeadLetters()
    run_until_drained(runner_for(consumer, serde, store, dlq), consumer)
    assert len(store.collections["readings"]) == 10
    assert [letter.message.offset() for letter in dlq.sent] == [5]
    assert consumer.committed[("sensor-data", 0)] == 11


def test_database_outage_pauses_retries_and_loses_nothing(serde: ContractSerde) -> None:
    consumer = FakeConsumer(messages(serde, [reading(i) for i in range(40)]))
    store = MemoryStore(down=True)
    runner = runner_for(consumer, serde, store, FakeDeadLetters())

    def recover() -> None:
        threading.Event().wait(0.3)
        store.down = False

    threading.Thread(target=recover).start()
    run_until_drained(runner, consumer)
    assert consumer.pauses >= 1 and not consumer.paused
    assert len(store.collections["readings"]) == 40
    assert consumer.committed[("sensor-data", 0)] == 40


def test_rollups_are_exact_per_device_sensor_and_minute(serde: ContractSerde) -> None:
    records = [reading(i) for i in range(90)] + [reading(i, "t2") for i in range(3)]
    consumer, store = FakeConsumer(messages(serde, records)), MemoryStore()
    run_until_drained(runner_for(consumer, serde, store, FakeDeadLetters()), consumer)
    first = store.rollups["sensebox-5f2b6c9e|t1|2026-11-28T12:00Z"]
    assert (first["count"], first["sum"], first["min"], first["max"], first["last"]) == (
        60,
        float(sum(range(60))),
        0.0,
        59.0,
        59.0,
    )
    second = store.rollups["sensebox-5f2b6c9e|t1|2026-11-28T12:01Z"]
    assert (second["count"], second["min"], second["max"]) == (30, 60.0, 89.0)
    assert store.rollups["sensebox-5f2b6c9e|t2|2026-11-28T12:00Z"]["count"] == 3


def test_rebuild_recomputes_rollups_exactly(serde: ContractSerde) -> None:
    records = [reading(i) for i in range(90)]
    consumer, store = FakeConsumer(messages(serde, records)), MemoryStore()
    run_until_drained(runner_for(consumer, serde, store, FakeDeadLetters()), consumer)
    before = {k: dict(v) for k, v in store.rollups.items()}
    store.rollups["sensebox-5f2b6c9e|t1|2026-11-28T12:00Z"]["count"] = 999  # drifted
    assert store.rebuild_rollups(BASE) == 2
    assert store.rollups == before


class StuckRetentionStore(MemoryStore):
    """A retention delete that does not return until released (FerretDB scanning a large
    collection): consumption must go on meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.started = threading.Event()

    def enforce_retention(self, *, sweep: bool = False) -> int:
        self.started.set()
        self.release.wait(30)
        return 0


@pytest.mark.timeout(10)  # with retention in the consume loop this would block 30 s
def test_retention_runs_beside_consumption_not_in_its_way(serde: ContractSerde) -> None:
    store = StuckRetentionStore()
    consumer = FakeConsumer(messages(serde, [reading(i) for i in range(80)]))
    runner = runner_for(consumer, serde, store, FakeDeadLetters(), retention_check_seconds=0.01)
    try:
        run_until_drained(runner, consumer)  # would hang here with retention in the loop
    finally:
        store.release.set()
    assert store.started.is_set()
    assert len(store.collections["readings"]) == 80


class CountingRetentionStore(MemoryStore):
    """Records each retention run: a walk (sweep False) or a sweep."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[bool] = []

    def enforce_retention(self, *, sweep: bool = False) -> int:
        self.runs.append(sweep)
        return 0


@pytest.mark.parametrize(("sweep_seconds", "sweeps"), [(0.2, True), (0, False)])
def test_retention_checks_walk_often_and_sweep_rarely(
    serde: ContractSerde, sweep_seconds: float, sweeps: bool
) -> None:
    store = CountingRetentionStore()
    runner = runner_for(
        FakeConsumer([]),
        serde,
        store,
        FakeDeadLetters(),
        retention_check_seconds=0.01,
        retention_sweep_seconds=sweep_seconds,
    )
    thread = threading.Thread(target=runner._retention_loop)
    thread.start()
    time.sleep(0.5)
    runner.stop.set()
    thread.join(5)
    walks, swept = store.runs.count(False), store.runs.count(True)
    assert walks >= 10  # every check, not hourly
    assert (1 <= swept <= 2) if sweeps else swept == 0  # at 0.2 s and 0.4 s
    assert not store.runs[0]  # the first sweep waits its period, not at start


def test_a_document_the_database_refuses_is_dead_lettered_not_retried(
    serde: ContractSerde,
) -> None:
    records = [reading(i) for i in range(10)]
    records[3].metadata = {"a.b": "dotted"}
    records[7].metadata = {"a.b": "dotted"}

    def refuse(document: dict[str, Any]) -> str | None:
        return "key must not contain '.' sign" if "a.b" in document["metadata"] else None

    consumer, dlq = FakeConsumer(messages(serde, records)), FakeDeadLetters()
    store = MemoryStore(refuse=refuse)
    run_until_drained(runner_for(consumer, serde, store, dlq), consumer)
    assert len(store.collections["readings"]) == 8
    assert [letter.message.offset() for letter in dlq.sent] == [3, 7]
    assert {letter.error.reason for letter in dlq.sent} == {"refused"}
    assert "key must not contain" in str(dlq.sent[0].error)
    assert consumer.committed == {("sensor-data", 0): 10}
    # The refused ones are not in the rollups either.
    assert sum(r["count"] for r in store.rollups.values()) == 8


def offset_of(document: dict[str, Any]) -> int:
    return int(document["source"].rpartition(":")[2])


class HeldStore(MemoryStore):
    """Each write of readings waits until the test lets it through (a slow database);
    records which offsets each write held and when it was let through."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[list[int]] = []
        self.released_at: list[datetime] = []
        self.entered = threading.Semaphore(0)
        self.go = threading.Semaphore(0)

    def write(self, collection: str, documents: Sequence[dict[str, Any]]) -> WriteResult:
        self.writes.append([offset_of(d) for d in documents])
        self.entered.release()
        assert self.go.acquire(timeout=10), "the test never let this write through"
        self.released_at.append(datetime.now(UTC))
        return super().write(collection, documents)


def wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def started(runner: SinkRunner) -> threading.Thread:
    thread = threading.Thread(target=runner.run)
    thread.start()
    return thread


@contextmanager
def running(runner: SinkRunner, store: HeldStore, releases: int = 5) -> Iterator[None]:
    """The runner on a thread of its own for the block; then stopped, with the held
    store let go (``releases`` writes) so that it can finish."""
    thread = started(runner)
    try:
        yield
    finally:
        runner.stop.set()
        for _ in range(releases):
            store.go.release()
        thread.join(10)


def test_what_arrives_during_a_write_is_written_next_in_one_batch(serde: ContractSerde) -> None:
    records = messages(serde, [reading(i) for i in range(40)])
    consumer, store = FakeConsumer(records[:10]), HeldStore()
    runner = runner_for(consumer, serde, store, FakeDeadLetters())
    with running(runner, store):
        assert store.entered.acquire(timeout=5)  # the first write is under way, held
        consumer.messages.extend(records[10:])
        wait_until(lambda: consumer.position == 40)  # consumed and decoded meanwhile
        time.sleep(0.05)
        assert consumer.committed == {}  # nothing committed before its write is done
        assert len(store.writes) == 1
        store.go.release()
        assert store.entered.acquire(timeout=5)
        store.go.release()
        wait_until(lambda: consumer.committed.get(("sensor-data", 0)) == 40)
    assert store.writes == [list(range(10)), list(range(10, 40))]
    assert len(store.collections["readings"]) == 40


def test_a_slow_write_holds_back_at_most_one_batch_in_memory(serde: ContractSerde) -> None:
    records = messages(serde, [reading(i) for i in range(200)])
    consumer, store = FakeConsumer(records[:1]), HeldStore()
    runner = runner_for(consumer, serde, store, FakeDeadLetters())  # batches of 50
    with running(runner, store, releases=10):
        assert store.entered.acquire(timeout=5)
        consumer.messages.extend(records[1:])
        wait_until(lambda: consumer.position == 51)
        time.sleep(0.1)
        assert consumer.position == 51  # the next batch is full: consumption waits
        while len(store.collections.get("readings", {})) < 200:
            store.go.release()
            time.sleep(0.01)
        wait_until(lambda: consumer.committed.get(("sensor-data", 0)) == 200)
    assert max(len(w) for w in store.writes) == 50
    assert sorted(o for w in store.writes for o in w) == list(range(200))


def test_stopping_writes_and_commits_what_was_decoded(serde: ContractSerde) -> None:
    records = messages(serde, [reading(i) for i in range(30)])
    consumer, store = FakeConsumer(records[:5]), HeldStore()
    runner = runner_for(consumer, serde, store, FakeDeadLetters())
    thread = started(runner)
    assert store.entered.acquire(timeout=5)
    consumer.messages.extend(records[5:])
    wait_until(lambda: consumer.position == 30)
    runner.stop.set()  # SIGTERM with one batch being written and the next decoded
    store.go.release()
    assert store.entered.acquire(timeout=5)
    store.go.release()
    thread.join(10)
    assert not thread.is_alive()
    assert consumer.committed == {("sensor-data", 0): 30}
    assert len(store.collections["readings"]) == 30


def test_stored_time_is_when_the_batch_is_handed_to_the_database(serde: ContractSerde) -> None:
    records = messages(serde, [reading(i) for i in range(20)])
    consumer, store = FakeConsumer(records[:5]), HeldStore()
    runner = runner_for(consumer, serde, store, FakeDeadLetters())
    with running(runner, store):
        assert store.entered.acquire(timeout=5)
        consumer.messages.extend(records[5:])
        wait_until(lambda: consumer.position == 20)  # decoded while the first write waits
        time.sleep(0.05)
        store.go.release()
        assert store.entered.acquire(timeout=5)
        store.go.release()
        wait_until(lambda: consumer.committed.get(("sensor-data", 0)) == 20)
    stored = store.collections["readings"]
    second = {d["stored_time"] for d in stored.values() if offset_of(d) >= 5}
    assert len(second) == 1  # one stamp per batch
    assert second.pop() >= store.released_at[0]  # not when it was decoded, but handed over
    # The write time runs from the hand-over; the batch time from its first record decoded,
    # so it also holds the second batch's wait (>= 50 ms) for the first write.
    registry = runner._metrics.registry
    writes = registry.get_sample_value("iotpipe_sink_write_seconds_sum")
    batches = registry.get_sample_value("iotpipe_sink_batch_seconds_sum")
    assert registry.get_sample_value("iotpipe_sink_write_seconds_count") == 2
    assert writes is not None and batches is not None
    assert batches - writes >= 0.04


def test_offsets_wait_for_the_views_and_a_replay_counts_what_they_never_wrote(
    serde: ContractSerde,
) -> None:
    """A batch's offsets are committed once the views wrote its readings; a sink killed
    before (its readings stored, not counted) leaves them to a replay, which counts them
    although they are duplicates by then."""
    records = [reading(i) for i in range(30)]
    consumer, store = FakeConsumer(messages(serde, records)), MemoryStore()
    runner = runner_for(consumer, serde, store, FakeDeadLetters(), views_flush_seconds=60)
    batch: Any = consumer.consume(30, 0)
    runner.process(batch)  # no views thread started: nothing flushes
    assert len(store.collections["readings"]) == 30 and store.rollups == {}
    assert consumer.committed == {}  # killed now: all 30 are delivered again
    again = FakeConsumer(messages(serde, records))
    run_until_drained(runner_for(again, serde, store, FakeDeadLetters()), again)
    assert sum(r["count"] for r in store.rollups.values()) == 30
    assert again.committed == {("sensor-data", 0): 30}
    runner.views.flush()  # the first sink's views, had they flushed: nothing counted twice
    runner._commit_flushed()
    assert consumer.committed == {("sensor-data", 0): 30}
    assert sum(r["count"] for r in store.rollups.values()) == 30


def test_held_commits_hurry_the_views_and_can_be_turned_off(serde: ContractSerde) -> None:
    """A batch whose commit has waited longer than views_commit_wait_seconds lifts the
    views' share pauses until it is committed; with views_hold_commits off, a batch is
    committed as soon as it is written, its readings still counted by the next flush."""
    records = [reading(i) for i in range(20)]
    consumer, store = FakeConsumer(messages(serde, records)), MemoryStore()
    runner = runner_for(
        consumer, serde, store, FakeDeadLetters(), views_flush_seconds=60,
        views_commit_wait_seconds=0,
    )  # fmt: skip
    batch: Any = consumer.consume(20, 0)
    runner.process(batch)
    assert consumer.committed == {}
    time.sleep(0.01)
    runner._commit_flushed()
    assert runner.views._hurried.is_set()  # waited past the bound: no pauses
    runner.views.flush()
    runner._commit_flushed()
    assert consumer.committed == {("sensor-data", 0): 20}
    assert not runner.views._hurried.is_set()  # caught up: back to the share

    at_once = FakeConsumer(messages(serde, records))
    store = MemoryStore()
    runner = runner_for(
        at_once, serde, store, FakeDeadLetters(), views_flush_seconds=60,
        views_hold_commits=False,
    )  # fmt: skip
    batch = at_once.consume(20, 0)
    runner.process(batch)
    assert at_once.committed == {("sensor-data", 0): 20} and store.rollups == {}
    runner.views.flush()
    assert sum(r["count"] for r in store.rollups.values()) == 20
