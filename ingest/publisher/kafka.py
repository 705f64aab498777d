"""The Kafka publisher: confluent-kafka's Producer bridged to asyncio.

One future per request, resolved from the delivery callbacks (run by a background poll
thread) with ``call_soon_threadsafe`` when the last of its records is reported; a request
returns only when Kafka acknowledged (acks=all) or gave up on each of its records.
Encoding (Avro via ContractSerde) and ``produce`` run on the event loop, a chunk of records
at a time with a turn of the loop between chunks, so a large batch does not hold up other
requests for long. The first record of each type goes through a worker thread instead:
its encoding may wait for the schema registry, which must not block the loop. (A worker
thread for every batch cost ~10 % of ingest's throughput: the threads handed the GIL back
and forth.) While no broker is up, records fail at once (503) instead of waiting for the
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
from functools import partial
from typing import Any

import httpx
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from pydantic import BaseModel

from ingest.publisher import Delivered, Failed, Outcome
from iotpipe.contract.catalog import TRACE_HEADER
from iotpipe.contract.serde import ContractSerde
from iotpipe.errors import ContractError, RegistryUnavailable

__all__ = ["KafkaPublisher", "producer_config"]

ENCODE_CHUNK = 64  # records encoded and produced between two turns of the event loop
_TOO_LARGE = KafkaError.MSG_SIZE_TOO_LARGE  # refused for its size: a retry cannot help
log = logging.getLogger("iotpipe.ingest.kafka")
_rdkafka_log = logging.getLogger("iotpipe.ingest.rdkafka")


def producer_config(
    bootstrap: str,
    *,
    delivery_timeout_ms: int,
    queue_max_records: int,
    compression: str,
    linger_ms: int,
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


class KafkaPublisher:
    def __init__(
        self,
        *,
        config: dict[str, Any],
        serde: ContractSerde,
        topic: str,
        registry_url: str,
        retry_after: int,
    ) -> None:
        self._serde = serde
        self._topic = topic
        self._registry_url = registry_url
        self._retry_after = retry_after
        self._brokers_down = False
        # Record types encoded once already: their registry lookups are cached.
        self._warm: set[type[BaseModel]] = set()
        self._producer = Producer(
            {**config, "error_cb": self._on_error, "stats_cb": self._on_stats}
        )
        self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-produce")
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="ingest-poll", daemon=True)
        self._poller.start()

    # -- callbacks (poll thread) -------------------------------------------------------
    def _poll(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.1)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_down = True
        log.warning("kafka: %s", error.str())

    def _on_stats(self, raw: str) -> None:
        # Judge only brokers learned from metadata (nodeid >= 0): before the first
        # metadata answer only the bootstrap entry exists, which says nothing yet.
        # "All down" also arrives through error_cb (_ALL_BROKERS_DOWN).
        brokers = [
            b for b in json.loads(raw).get("brokers", {}).values() if b.get("nodeid", -1) >= 0
        ]
        if brokers:
            self._brokers_down = not any(b.get("state") == "UP" for b in brokers)

    def _delivered(
        self, pending: _Pending, index: int, error: KafkaError | None, message: Message
    ) -> None:
        outcome: Outcome
        if error is None:
            outcome = Delivered(partition=message.partition() or 0, offset=message.offset() or 0)
        elif error.code() == _TOO_LARGE:
            outcome = Failed("too_large", f"kafka: {error.str()}", 0)
        else:
            outcome = Failed("unavailable", f"kafka: {error.str()}", self._retry_after)
        pending.settle(index, outcome)

    # -- produce (the event loop, or a worker thread for a type's first record) ---------
    def _enqueue(
        self, records: Sequence[BaseModel], pending: _Pending, trace: str, first: int = 0
    ) -> None:
        for index, record in enumerate(records, start=first):
            try:
                outcome = self._produce(record, pending, index, trace)
            except Exception:  # never let one record turn a request into a 500
                log.exception("unexpected failure producing %s", type(record).__name__)
                outcome = Failed("unavailable", "internal producer error", self._retry_after)
            if outcome is not None:
                pending.settle(index, outcome)

    def _produce(
        self, record: BaseModel, pending: _Pending, index: int, trace: str
    ) -> Failed | None:
        if self._closed.is_set() or self._brokers_down:  # closed: between two chunks
            why = "ingest is shutting down" if self._closed.is_set() else "no broker reachable"
            return Failed("unavailable", f"kafka: {why}", self._retry_after)
        try:
            value = self._serde.encode(record, self._topic)
            self._warm.add(type(record))
        except RegistryUnavailable as exc:
            return Failed("unavailable", str(exc), self._retry_after)
        except ContractError as exc:  # e.g. schema not registered: an operator's job
            log.error("cannot encode %s: %s", type(record).__name__, exc)
            return Failed("unavailable", "schema not registered in the registry", self._retry_after)
        headers: list[tuple[str, str | bytes | None]] = [
            *self._serde.headers(record),
            (TRACE_HEADER, trace.encode()),
        ]
        key = str(getattr(record, "device_id", "")).encode()
        try:
            self._producer.produce(
                self._topic,
                key=key,
                value=value,
                headers=headers,
                on_delivery=partial(self._delivered, pending, index),
            )
        except BufferError:
            return Failed("queue_full", "producer queue is full", 1)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            too_large = isinstance(error, KafkaError) and error.code() == _TOO_LARGE
            return Failed(
                "too_large" if too_large else "unavailable", f"kafka: {exc}", self._retry_after
            )
        return None

    # -- Publisher ---------------------------------------------------------------------
    async def publish(self, records: Sequence[BaseModel], *, trace: str) -> list[Outcome]:
        if self._closed.is_set():
            return [
                Failed("unavailable", "ingest is shutting down", self._retry_after) for _ in records
            ]
        if not records:
            return []
        loop = asyncio.get_running_loop()
        pending = _Pending(loop, len(records))
        started = time.monotonic()
        for start in range(0, len(records), ENCODE_CHUNK):
            chunk = records[start : start + ENCODE_CHUNK]
            if all(type(record) in self._warm for record in chunk):
                self._enqueue(chunk, pending, trace, start)
            else:  # a registry lookup may be due: not on the event loop
                await loop.run_in_executor(
                    self._encoder, self._enqueue, chunk, pending, trace, start
                )
            if start + ENCODE_CHUNK < len(records):
                await asyncio.sleep(0)  # let other requests in between chunks
        outcomes = await pending.future
        log.debug(
            "published %d records in %.1f ms", len(records), (time.monotonic() - started) * 1000
        )
        return outcomes

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
        """Flush what is in flight, then stop; safe to call more than once."""
        if self._closed.is_set():
            return
        loop = asyncio.get_running_loop()
        remaining = await loop.run_in_executor(self._encoder, self._producer.flush, 15.0)
        if remaining:
            log.error("%d records still unacknowledged at shutdown", remaining)
        self._closed.set()
        self._encoder.shutdown(wait=False)


class _Pending:
    """The outcomes of one publish call. Delivery reports arrive one by one on the poll
    thread; the request's coroutine is woken once, when the last one is in."""

    __slots__ = ("_lock", "_loop", "_outcomes", "_remaining", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._outcomes: list[Outcome | None] = [None] * count
        self._remaining = count
        self.future: asyncio.Future[list[Outcome]] = loop.create_future()

    def settle(self, index: int, outcome: Outcome) -> None:
        with self._lock:
            if self._outcomes[index] is not None:
                return
            self._outcomes[index] = outcome
            self._remaining -= 1
            if self._remaining:
                return
        outcomes = [o for o in self._outcomes if o is not None]
        self._loop.call_soon_threadsafe(_resolve, self.future, outcomes)


def _resolve(future: asyncio.Future[list[Outcome]], outcomes: list[Outcome]) -> None:
    if not future.done():
        future.set_result(outcomes)
