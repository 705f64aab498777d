"""The Kafka publisher: confluent-kafka's Producer driven from the event loop.

A request's records are encoded by their type's generated codec (``generated/codecs``)
behind the Confluent frame and produced on the event loop, a chunk at a time with a turn
of the loop between chunks, so a large batch does not hold up other requests for long.
The frame's schema id is looked up in the registry once per record type, off the loop
(a worker thread), before that type's first record is encoded.

Delivery reports are served on the event loop too (``poll_mode="loop"``): while records
are in flight, the loop calls ``poll(0)`` every ``poll_interval`` (and every turn while
reports keep arriving), so a report resolves its request's future directly. While fewer
than ``spin_below`` records are in flight (single readings), it polls on every turn of
the loop instead: uvloop's timers count whole milliseconds, so "every 1 ms" meant 1-2 ms
after the acknowledgement, on a request whose whole answer takes ~3 ms. With a poll
thread instead (``poll_mode="thread"``), each report had to take the GIL from the busy
event loop and wake it across threads: ~2 ms from Kafka's acknowledgement to the request
resuming, measured under load, which capped single requests at connections / latency.

A request returns only when Kafka acknowledged (acks=all) or gave up on each of its
records. While no broker is up, records fail at once (503) instead of waiting for the
delivery timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import httpx
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from pydantic import BaseModel

from ingest.publisher import DELIVERED, Failed, Outcome
from iotpipe.contract.catalog import RECORD_TYPE_HEADER, TRACE_HEADER, RecordType
from iotpipe.contract.serde import ContractSerde
from iotpipe.errors import ContractError, RegistryUnavailable
from iotpipe.logs import RepeatsDropped

__all__ = ["KafkaPublisher", "producer_config"]

ENCODE_CHUNK = 256  # records encoded and produced between two turns of the event loop
_TOO_LARGE = KafkaError.MSG_SIZE_TOO_LARGE  # refused for its size: a retry cannot help
log = logging.getLogger("iotpipe.ingest.kafka")
_rdkafka_log = logging.getLogger("iotpipe.ingest.rdkafka")
_repeats = RepeatsDropped(30.0)  # a broker that is down is reported on every reconnect
log.addFilter(_repeats)
_rdkafka_log.addFilter(_repeats)

PollMode = Literal["loop", "thread"]


def producer_config(
    bootstrap: str,
    *,
    delivery_timeout_ms: int,
    queue_max_records: int,
    compression: str,
    linger_ms: float,
) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": compression,
        "linger.ms": linger_ms,
        "batch.num.messages": 10_000,
        "message.timeout.ms": delivery_timeout_ms,
        "queue.buffering.max.messages": queue_max_records,
        "queue.buffering.max.kbytes": 1_048_576,
        "partitioner": "murmur2_random",  # same partition per key as the Java clients
        "statistics.interval.ms": 1000,
        "logger": _rdkafka_log,
    }


class _TypeInfo:
    """What producing records of one model class needs, looked up once."""

    __slots__ = ("encode_framed", "frame", "header", "record_type")

    def __init__(self, serde: ContractSerde, record_type: RecordType, topic: str) -> None:
        self.record_type = record_type
        self.header = record_type.fullname.encode()
        self.encode_framed = serde.codec(record_type).encode_framed
        self.frame = serde.cached_frame(record_type, topic)  # None until looked up


class KafkaPublisher:
    def __init__(
        self,
        *,
        config: dict[str, Any],
        serde: ContractSerde,
        topic: str,
        registry_url: str,
        retry_after: int,
        poll_mode: PollMode = "loop",
        poll_interval: float = 0.001,
        spin_below: int = 0,
    ) -> None:
        self._serde = serde
        self._topic = topic
        self._registry_url = registry_url
        self._retry_after = retry_after
        self._brokers_down = False
        self._types: dict[type[BaseModel], _TypeInfo] = {}
        self._producer = Producer(
            {**config, "error_cb": self._on_error, "stats_cb": self._on_stats}
        )
        self._lookups = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-registry")
        self._closed = threading.Event()
        self._closing = False
        self._poll_mode = poll_mode
        self._poll_interval = poll_interval
        self._spin_below = spin_below
        self._in_flight = 0  # records produced and not yet reported (loop mode)
        self._tick: asyncio.Handle | None = None  # the next poll (loop mode)
        self._tick_fast = False
        self._poller: threading.Thread | None = None
        if poll_mode == "thread":
            self._poller = threading.Thread(target=self._poll, name="ingest-poll", daemon=True)
            self._poller.start()

    # -- polling --------------------------------------------------------------------------
    def _poll(self) -> None:
        """Thread mode: serve reports and callbacks until closed."""
        while not self._closed.is_set():
            self._producer.poll(0.1)

    def _wake(self) -> None:
        """Loop mode: records are in flight; poll soon (not after the idle wait)."""
        if self._tick is not None and not self._tick_fast:
            self._tick.cancel()
            self._tick = None
        if self._tick is None:
            loop = asyncio.get_running_loop()
            if self._in_flight < self._spin_below:
                self._tick = loop.call_soon(self._polling, loop)
            else:
                self._tick = loop.call_later(self._poll_interval, self._polling, loop)
            self._tick_fast = True

    def _polling(self, loop: asyncio.AbstractEventLoop) -> None:
        """Loop mode: serve reports (a report resolves its request's future right here);
        again next turn while they keep coming, every ``poll_interval`` while records are
        in flight, every 100 ms (errors, statistics) when none are."""
        self._tick = None
        if self._closed.is_set():
            return
        served = self._producer.poll(0)
        if (served or self._in_flight < self._spin_below) and self._in_flight:
            self._tick, self._tick_fast = loop.call_soon(self._polling, loop), True
        elif self._in_flight:
            self._tick = loop.call_later(self._poll_interval, self._polling, loop)
            self._tick_fast = True
        else:
            self._tick, self._tick_fast = loop.call_later(0.1, self._polling, loop), False

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_down = True
        log.warning("kafka: %s", error.str())  # repeats dropped: see _repeats

    def _on_stats(self, raw: str) -> None:
        # Judge only brokers learned from metadata (nodeid >= 0): before the first
        # metadata answer only the bootstrap entry exists, which says nothing yet.
        # "All down" also arrives through error_cb (_ALL_BROKERS_DOWN).
        brokers = [
            b for b in json.loads(raw).get("brokers", {}).values() if b.get("nodeid", -1) >= 0
        ]
        if brokers:
            self._brokers_down = not any(b.get("state") == "UP" for b in brokers)

    # -- produce --------------------------------------------------------------------------
    def _info(self, record: BaseModel) -> _TypeInfo:
        info = self._types.get(type(record))
        if info is None:
            record_type = self._serde.record_type(record)
            info = self._types[type(record)] = _TypeInfo(self._serde, record_type, self._topic)
        return info

    async def start(self, record_types: Sequence[RecordType]) -> None:
        """Look up the schema ids of these record types now (off the loop), rather than at
        each one's first record: a worker's first request would wait for the registry.
        If the registry does not answer, the lookup is left to the first record."""
        infos = []
        for record_type in record_types:
            info = _TypeInfo(self._serde, record_type, self._topic)
            self._types[record_type.model()] = info
            infos.append(info)
        loop = asyncio.get_running_loop()
        failed = await loop.run_in_executor(self._lookups, self._resolve_frames, infos)
        if failed is not None:
            log.warning("schema ids not looked up at start (%s); at the first record", failed)
        if self._closing:
            return
        try:  # the topic's partitions and leaders, before the first record waits for them
            await loop.run_in_executor(self._lookups, self._topic_metadata)
        except KafkaException as exc:
            log.warning("topic %s not looked up at start: %s", self._topic, exc)

    def _topic_metadata(self) -> None:
        self._producer.list_topics(self._topic, timeout=5.0)

    def _resolve_frames(self, infos: list[_TypeInfo]) -> Failed | None:
        """Worker thread: the schema ids of record types not yet looked up."""
        for info in infos:
            if self._closing:
                return None
            try:
                info.frame = self._serde.frame(info.record_type, self._topic)
            except RegistryUnavailable as exc:
                return Failed("unavailable", str(exc), self._retry_after)
            except ContractError as exc:  # e.g. schema not registered: an operator's job
                log.error("cannot encode %s: %s", info.record_type.name, exc)
                return Failed(
                    "unavailable", "schema not registered in the registry", self._retry_after
                )
        return None

    def _produce(
        self,
        records: Sequence[BaseModel],
        first: int,
        pending: _Pending,
        info: _TypeInfo,
        headers: list[Any],
    ) -> None:
        """Encode and produce ``records`` (of one type; indexes from ``first``)."""
        if self._closed.is_set() or self._brokers_down:  # closed: between two chunks
            why = "ingest is shutting down" if self._closed.is_set() else "no broker reachable"
            for index in range(first, first + len(records)):
                pending.settle(index, Failed("unavailable", f"kafka: {why}", self._retry_after))
            return
        produce, topic, report = self._producer.produce, self._topic, pending.report
        values = info.encode_framed(info.frame or b"", records)
        for index, (record, value) in enumerate(zip(records, values, strict=True), start=first):
            if value.__class__ is not bytes:  # a model that does not fit its schema: a bug
                log.error("cannot encode %s: %s", info.record_type.name, value)
                pending.settle(index, Failed("unavailable", "internal encoding error", 5))
                continue
            try:
                produce(
                    topic,
                    value,
                    record.device_id.encode(),  # type: ignore[attr-defined]
                    on_delivery=report,
                    headers=headers,
                )
            except BufferError:
                pending.settle(index, Failed("queue_full", "producer queue is full", 1))
                continue
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                too_large = isinstance(error, KafkaError) and error.code() == _TOO_LARGE
                reason: Literal["too_large", "unavailable"] = (
                    "too_large" if too_large else "unavailable"
                )
                pending.settle(index, Failed(reason, f"kafka: {exc}", self._retry_after))
                continue
            except Exception:  # never let one record turn a request into a 500
                log.exception("unexpected failure producing %s", type(record).__name__)
                pending.settle(index, Failed("unavailable", "internal producer error", 5))
                continue
            pending.sent(index, value)

    # -- Publisher ---------------------------------------------------------------------
    async def publish(self, records: Sequence[BaseModel], *, trace: str) -> list[Outcome]:
        if self._closed.is_set():
            return [
                Failed("unavailable", "ingest is shutting down", self._retry_after) for _ in records
            ]
        if not records:
            return []
        loop = asyncio.get_running_loop()
        cls = type(records[0])
        info = self._types.get(cls) or self._info(records[0])
        if any(type(r) is not cls for r in records):  # not from ingest's routes; still served
            return await self._publish_mixed(records, trace)
        if info.frame is None:  # a registry lookup is due: not on the event loop
            failed = await loop.run_in_executor(self._lookups, self._resolve_frames, [info])
            if failed is not None:
                return [failed for _ in records]
        threaded = self._poll_mode == "thread"
        pending = _Pending(loop, len(records), self, threaded=threaded)
        headers = [(RECORD_TYPE_HEADER, info.header), (TRACE_HEADER, trace.encode())]
        for start in range(0, len(records), ENCODE_CHUNK):
            self._produce(records[start : start + ENCODE_CHUNK], start, pending, info, headers)
            if start + ENCODE_CHUNK < len(records):
                await asyncio.sleep(0)  # let other requests in between chunks
        return await pending.future

    async def _publish_mixed(self, records: Sequence[BaseModel], trace: str) -> list[Outcome]:
        """Records of several types: published type by type, outcomes in their order."""
        outcomes: list[Outcome | None] = [None] * len(records)
        by_type: dict[type[BaseModel], list[int]] = {}
        for index, record in enumerate(records):
            by_type.setdefault(type(record), []).append(index)
        for indexes in by_type.values():
            done = await self.publish([records[i] for i in indexes], trace=trace)
            for index, outcome in zip(indexes, done, strict=True):
                outcomes[index] = outcome
        return [o for o in outcomes if o is not None]

    def problem(self) -> str | None:
        if self._brokers_down:
            return "kafka: no broker reachable"
        try:
            self._producer.list_topics(timeout=2.0)
        except KafkaException as exc:
            return f"kafka: {exc}"
        try:
            response = httpx.get(f"{self._registry_url}/subjects", timeout=2.0)
        except httpx.HTTPError as exc:
            return f"schema registry: {exc.__class__.__name__}"
        return None if response.status_code == 200 else f"registry: HTTP {response.status_code}"

    def queue_depth(self) -> int:
        return len(self._producer)

    async def close(self) -> None:
        """Flush what is in flight (its reports served), then stop; safe to call twice."""
        if self._closed.is_set():
            return
        self._closing = True  # a warm-up still looking things up stops at its next step
        if self._poll_mode == "loop":
            deadline = time.monotonic() + 15.0
            while self._in_flight and time.monotonic() < deadline:
                await asyncio.sleep(0.01)  # the polling serves the reports meanwhile
        # Not on the lookups' thread: a warm-up waiting there on an unreachable registry
        # or broker (seconds of retries) would hold the flush, and the worker's exit.
        remaining = await asyncio.to_thread(self._producer.flush, 15.0)
        if remaining:
            log.error("%d records still unacknowledged at shutdown", remaining)
        self._closed.set()
        self._lookups.shutdown(wait=False)
        if self._tick is not None:
            self._tick.cancel()


class _Pending:
    """The outcomes of one publish call. Kafka reports each record's delivery; the
    request's future resolves once all are in (on the loop, or from the poll thread).

    Successes are only counted: the outcomes are ``DELIVERED`` but for the failures,
    which a report names by the record's value (looked up only when one fails)."""

    __slots__ = ("_by_value", "_count", "_failed", "_lock", "_loop", "_publisher",
                 "_remaining", "_threaded", "_unplaced", "_values", "future")  # fmt: skip

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        count: int,
        publisher: KafkaPublisher,
        *,
        threaded: bool,
    ) -> None:
        self._loop = loop
        self._publisher = publisher
        self._threaded = threaded
        self._lock = threading.Lock() if threaded else None
        self._count = self._remaining = count
        self._failed: dict[int, Failed] = {}
        self._unplaced: Failed | None = None
        self._values: list[bytes | None] = [None] * count
        self._by_value: dict[bytes, list[int]] | None = None
        self.future: asyncio.Future[list[Outcome]] = loop.create_future()

    def sent(self, index: int, value: bytes) -> None:
        """A record is in the producer's queue; its report will come."""
        self._values[index] = value
        if not self._threaded:
            publisher = self._publisher
            publisher._in_flight += 1
            if not publisher._tick_fast:
                publisher._wake()

    def report(self, error: KafkaError | None, message: Message) -> None:
        """The producer's delivery report of one of this request's records."""
        if not self._threaded:
            self._publisher._in_flight -= 1
        if error is None:
            self._done(None, None)
            return
        if error.code() == _TOO_LARGE:
            failure = Failed("too_large", f"kafka: {error.str()}", 0)
        else:
            failure = Failed("unavailable", f"kafka: {error.str()}", self._publisher._retry_after)
        self._done(self._index_of(message.value() or b""), failure)

    def _index_of(self, value: bytes) -> int:
        """Which record a failed report is about (-1: none of ours, never expected)."""
        if self._by_value is None:
            self._by_value = {}
            for index, sent in enumerate(self._values):
                if sent is not None:
                    self._by_value.setdefault(sent, []).append(index)
        indexes = self._by_value.get(value)
        return indexes.pop(0) if indexes else -1

    def settle(self, index: int, failure: Failed) -> None:
        """A record that never reached the producer's queue."""
        self._done(index, failure)

    def _done(self, index: int | None, failure: Failed | None) -> None:
        if self._lock is not None:
            with self._lock:
                finished = self._tally(index, failure)
        else:
            finished = self._tally(index, failure)
        if not finished:
            return
        if self._threaded:
            self._loop.call_soon_threadsafe(self._resolve)
        else:
            self._resolve()

    def _tally(self, index: int | None, failure: Failed | None) -> bool:
        if failure is not None:
            if index is not None and index >= 0:
                self._failed[index] = failure
            else:  # cannot tell which record: claim none of them delivered
                self._unplaced = failure
        self._remaining -= 1
        return self._remaining == 0

    def _resolve(self) -> None:
        if self.future.done():
            return
        outcomes: list[Outcome] = [self._unplaced or DELIVERED] * self._count
        for index, failure in self._failed.items():
            outcomes[index] = failure
        self.future.set_result(outcomes)
