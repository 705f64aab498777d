"""The sink loop: consume a batch, decode, write, dead-letter, then commit. Repeat.

Offsets are committed only after the batch's documents and dead letters are durably
written, and writes are idempotent (unique event_id), so a crash anywhere means
redelivery, never loss, and redelivery never means a duplicate. When Kafka, the
registry or the database fails, the runner pauses its partitions, stays in the group
(polling), retries with exponential backoff and jitter, and resumes where it stopped.
A stop request (SIGTERM) lets the batch in hand finish, commits, and leaves the group.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from iotpipe.contract.serde import ContractSerde
from iotpipe.errors import DecodeError, RegistryUnavailable
from sink.dlq import DeadLetter, DeadLetterWriter
from sink.documents import COLLECTIONS, to_document
from sink.health import SinkMetrics
from sink.settings import SinkSettings
from sink.store import DocumentStore, StoreUnavailable, WriteResult
from sink.turns import Turns
from sink.views import ViewUpdater

__all__ = ["SinkRunner", "Throttled"]

log = logging.getLogger("iotpipe.sink")
T = TypeVar("T")
TRANSIENT = (RegistryUnavailable, StoreUnavailable, KafkaException, ConnectionError, BufferError)


class Throttled:
    """Warnings at most once per ``interval`` per key, with a count of what was held back."""

    def __init__(self, interval: float = 30.0) -> None:
        self._interval = interval
        self._last: dict[str, tuple[float, int]] = {}

    def warn(self, key: str, message: str) -> None:
        now = time.monotonic()
        last, held = self._last.get(key, (-self._interval, 0))
        if now - last >= self._interval:
            extra = f" ({held} similar suppressed)" if held else ""
            log.warning("%s%s", message, extra)
            self._last[key] = (now, 0)
        else:
            self._last[key] = (last, held + 1)


# While a write is under way, the loop looks for newly arrived records this often (and
# decodes them), and notices the write's end at once.
_WRITE_WATCH_SECONDS = 0.005
# With nothing in hand, how long one wait for the first record lasts (then the loop looks
# at the stop flag again).
_IDLE_POLL_SECONDS = 0.1
_OWED_RETRY_SECONDS = 1.0  # between attempts to commit offsets a refused commit left


@dataclass
class _Prepared:
    """A decoded batch: its documents per collection, each document's message, and the
    messages that could not be decoded."""

    batch: list[Message]
    started: float  # when its first record was decoded
    handed: float = 0.0  # when it was handed to the database (stored_time)
    documents: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    sources: dict[str, list[Message]] = field(default_factory=lambda: defaultdict(list))
    dead: list[DeadLetter] = field(default_factory=list)


class SinkRunner:
    def __init__(
        self,
        *,
        consumer: Consumer,
        serde: ContractSerde,
        store: DocumentStore,
        dead_letters: DeadLetterWriter,
        settings: SinkSettings,
        metrics: SinkMetrics,
    ) -> None:
        self._turns = Turns()
        self.views = ViewUpdater(
            store,
            metrics,
            flush_seconds=settings.views_flush_seconds,
            max_pending=settings.views_max_pending,
            max_db_share=settings.views_max_db_share,
            turns=self._turns,
        )
        self._consumer = consumer
        self._serde = serde
        self._store = store
        self._dlq = dead_letters
        self._settings = settings
        self._metrics = metrics
        self._throttle = Throttled()
        self._paused = False
        self._assigned: set[tuple[str, int]] = set()
        # Revoked or lost, not assigned again since: offsets not ours to commit.
        self._gone: set[tuple[str, int]] = set()
        # Offsets a refused commit left owed (e.g. ILLEGAL_GENERATION in a rebalance, for a
        # partition this member keeps): sent again with the next commit, or when idle.
        self._owed: dict[tuple[str, int], int] = {}
        self._owed_retry_at = 0.0
        # Batches written, waiting for the views to write their readings before their
        # offsets are committed: (views ticket, end offset per partition), in order.
        # (views ticket, end offset per partition, when written), in order.
        self._awaiting: deque[tuple[int, dict[tuple[str, int], int], float]] = deque()
        self._cooperative = settings.assignment_strategy == "cooperative-sticky"
        self.stop = threading.Event()
        self.batches = 0
        self._linger = settings.batch_max_seconds

    # -- state for /healthz --------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "paused": self._paused,
            "assigned_partitions": len(self._assigned),
            "batches": self.batches,
        }

    # -- kafka callbacks -----------------------------------------------------------------
    # Cooperative rebalancing (the default, partition.assignment.strategy
    # cooperative-sticky): each callback gets only the partitions that move, and the
    # member keeps consuming the others meanwhile. Called from poll/consume on this
    # thread. A revoked or lost partition's records already in hand are still written,
    # but their offsets are not committed (see _commit): its new owner reads them again
    # from the last commit, and stores nothing twice (writes are idempotent by event_id).
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if not partitions:
            return  # the second round of a cooperative rebalance, nothing for us
        keys = {(p.topic, p.partition) for p in partitions}
        if self._paused:  # they must not flow while we wait for the database or registry
            if self._cooperative:
                consumer.incremental_assign(partitions)
            else:
                consumer.assign(partitions)
            consumer.pause(partitions)
        self._assigned |= keys
        self._gone -= keys
        self._moved("assigned", partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._let_go("revoked", partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._let_go("lost", partitions)

    def _let_go(self, kind: str, partitions: list[TopicPartition]) -> None:
        if not partitions:
            return
        keys = {(p.topic, p.partition) for p in partitions}
        self._assigned -= keys
        self._gone |= keys
        for _, ends, _ in self._awaiting:
            for key in keys:
                ends.pop(key, None)
        for topic, number in keys:
            self._owed.pop((topic, number), None)  # its new owner re-reads from the last commit
            if topic == self._settings.topic:
                self._metrics.lag.remove(str(number))  # its new owner reports it
        self._moved(kind, partitions)

    def _moved(self, kind: str, partitions: list[TopicPartition]) -> None:
        self._metrics.rebalances.labels(kind).inc()
        self._metrics.rebalance_partitions.labels(kind).inc(len(partitions))
        self._metrics.assigned.set(len(self._assigned))
        log.info(
            "%s %s (holding %d)",
            kind,
            sorted(p.partition for p in partitions),
            len(self._assigned),
        )

    def on_stats(self, raw: str) -> None:
        """Consumer lag per partition this sink holds (librdkafka's statistics)."""
        topic = json.loads(raw).get("topics", {}).get(self._settings.topic, {})
        for number, partition in topic.get("partitions", {}).items():
            lag = partition.get("consumer_lag", -1)
            if (self._settings.topic, int(number)) in self._assigned and lag >= 0:
                self._metrics.lag.labels(number).set(lag)

    # -- retry with pause ----------------------------------------------------------------
    def _retrying(self, what: str, action: Callable[[], T]) -> T:
        delay = self._settings.retry_initial_seconds
        while True:
            try:
                result = action()
            except TRANSIENT as exc:
                if self.stop.is_set():
                    raise
                self._pause()
                self._throttle.warn(what, f"{what} failed, retrying (consumption paused): {exc}")
                self._wait(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not crypto
                delay = min(delay * 2, self._settings.retry_max_seconds)
                continue
            self._resume()
            return result

    def _pause(self) -> None:
        if not self._paused:
            self._consumer.pause(self._consumer.assignment())
            self._paused = True
            self._metrics.paused.set(1)

    def _resume(self) -> None:
        if self._paused:
            self._consumer.resume(self._consumer.assignment())
            self._paused = False
            self._metrics.paused.set(0)

    def _wait(self, seconds: float) -> None:
        """Wait while staying in the group; rewind anything a new assignment delivers."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop.is_set():
            message = self._consumer.poll(min(0.5, max(0.0, deadline - time.monotonic())))
            if message is not None and message.error() is None:
                partition = TopicPartition(
                    message.topic() or "", message.partition() or 0, message.offset() or 0
                )
                self._consumer.seek(partition)  # not processed now: read it again later
                self._consumer.pause([partition])

    # -- one batch -----------------------------------------------------------------------
    def _decode(self, message: Message) -> Any:
        headers = message.headers() or []
        if not isinstance(headers, list):
            headers = list(headers.items())
        return self._serde.decode(message.value(), headers, message.topic() or "")

    def process(self, batch: list[Message]) -> None:
        """One batch, start to commit, on this thread."""
        prepared = self._prepare(batch)
        self._stamp(prepared)
        self._finish(prepared, None)

    def _prepare(self, batch: list[Message], into: _Prepared | None = None) -> _Prepared:
        """Decode records into documents per collection (and dead letters), added to
        ``into`` (records not yet written) or to a new batch."""
        prepared = into if into is not None else _Prepared([], time.perf_counter())
        prepared.batch.extend(batch)
        stored = datetime.now(UTC)  # stamped again when the batch is handed to the database
        for message in batch:
            try:
                record = self._retrying("decoding (registry)", partial(self._decode, message))
            except DecodeError as exc:
                prepared.dead.append(DeadLetter(message, exc))
                self._metrics.dead_letters.labels(exc.reason).inc()
                self._throttle.warn(
                    "dlq",
                    f"dead letter ({exc.reason}) at "
                    f"{message.partition()}:{message.offset()}: {exc}",
                )
                continue
            collection = COLLECTIONS.get(type(record).__name__, "records")
            prepared.sources[collection].append(message)
            prepared.documents[collection].append(
                to_document(
                    record,
                    partition=message.partition() or 0,
                    offset=message.offset() or 0,
                    stored=stored,
                )
            )
        return prepared

    @staticmethod
    def _stamp(prepared: _Prepared) -> dict[str, list[dict[str, Any]]]:
        """``stored_time``: when the batch is handed to the database."""
        stored = datetime.now(UTC)
        prepared.handed = time.perf_counter()
        for documents in prepared.documents.values():
            for document in documents:
                document["stored_time"] = stored
        return prepared.documents

    def _write(self, collection: str, documents: list[dict[str, Any]]) -> WriteResult:
        with self._turns.batch():
            return self._store.write(collection, documents)

    def _write_once(self, documents: dict[str, list[dict[str, Any]]]) -> dict[str, WriteResult]:
        """The writer thread's one attempt: what it wrote, up to the first failure (the
        rest is retried by ``_finish`` on the consumer's thread, which pauses and polls)."""
        results = {}
        for collection, docs in documents.items():
            try:
                results[collection] = self._write(collection, docs)
            except TRANSIENT:
                break
        return results

    def _finish(self, prepared: _Prepared, attempt: Future[dict[str, WriteResult]] | None) -> None:
        """Write what the attempt did not, dead-letter, then commit the batch's offsets."""
        written = attempt.result() if attempt is not None else {}
        dead = prepared.dead
        for collection, docs in prepared.documents.items():
            result = written.get(collection) or self._retrying(
                "writing to the database", partial(self._write, collection, docs)
            )
            self._metrics.written.labels(collection).inc(result.inserted)
            self._metrics.duplicates.inc(result.duplicates)
            for index, why in result.refused:
                dead.append(self._refused(prepared.sources[collection][index], why))
            if collection == "readings" and self._settings.views:
                # Duplicates too: a batch delivered again after a crash was stored, but
                # maybe not counted; the store counts each reading once.
                refused = {index for index, _ in result.refused}
                stored = [d for i, d in enumerate(docs) if i not in refused]
                if stored and self._settings.views_flush_seconds == 0:
                    self._retrying("updating rollups", partial(self.views.add, stored))
                elif stored:
                    self.views.add(stored)

        if dead:
            self._retrying("writing dead letters", partial(self._dlq.send, dead))
        if self._settings.views and self._settings.views_hold_commits:
            # Committed once the views have written the batch's readings (at once when
            # they flush in the loop): a crash before leaves them to be delivered again.
            self._awaiting.append((self.views.ticket, _ends(prepared.batch), time.monotonic()))
            self._commit_flushed()
        else:
            self._commit(_ends(prepared.batch))
        self._metrics.consumed.inc(len(prepared.batch))
        done = time.perf_counter()
        self._metrics.batch_seconds.observe(done - prepared.started)
        self._metrics.write_seconds.observe(done - prepared.handed)
        self.batches += 1

    def _refused(self, message: Message, why: str) -> DeadLetter:
        """A decoded record the database will not store as it is: a dead letter (kept byte
        for byte, replayable once the cause is fixed), not an endless retry."""
        error = DecodeError(f"the database refused the document: {why}", reason="refused")
        self._metrics.dead_letters.labels(error.reason).inc()
        self._throttle.warn(
            "refused", f"dead letter (refused) at {message.partition()}:{message.offset()}: {why}"
        )
        return DeadLetter(message, error)

    def _commit_flushed(self) -> None:
        """Commit the batches, in order, whose readings the views have written."""
        flushed = self.views.flushed
        ends: dict[tuple[str, int], int] = {}
        while self._awaiting and self._awaiting[0][0] <= flushed:
            for key, end in self._awaiting.popleft()[1].items():
                ends[key] = max(ends.get(key, -1), end)
        if ends:
            self._commit(ends)
        # Commits held back too long: the views write at full pace until they catch up
        # (batch writes keep their turns first), so lag stays bounded under a backlog.
        waited = time.monotonic() - self._awaiting[0][2] if self._awaiting else 0.0
        self.views.hurry(waited > self._settings.views_commit_wait_seconds)

    def _commit(self, batch_ends: dict[tuple[str, int], int]) -> None:
        """Commit ``batch_ends`` (written: durable) and anything owed before."""
        ends = dict(self._owed)
        for key, end in batch_ends.items():
            ends[key] = max(ends.get(key, -1), end)
        held = {key: end for key, end in ends.items() if key not in self._gone}
        if not held:
            self._owed.clear()
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in held.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # A rebalance under way (a revoked partition's new owner re-reads, idempotently;
            # one this member keeps is committed again with the next commit or when idle,
            # else its lag would never return to zero on a partition with no new record).
            self._owed = held
            self._owed_retry_at = time.monotonic() + _OWED_RETRY_SECONDS
            self._metrics.commit_failures.inc()
            self._throttle.warn("commit", f"commit failed (rebalance?), retried: {exc}")
            return
        self._owed.clear()

    def _settle_owed(self) -> None:
        """Idle: commit what a refused commit left owed (at most once a second)."""
        if self._owed and time.monotonic() >= self._owed_retry_at:
            self._commit({})

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> None:
        for note in self._retrying("preparing the database", self._store.prepare):
            log.warning("%s", note)
        self._consumer.subscribe(
            [self._settings.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info("consuming %s as group %s", self._settings.topic, self._settings.group_id)
        if self._settings.views:  # false: readings only (a bench setting)
            self.views.start()
        retention = threading.Thread(
            target=self._retention_loop, name="sink-retention", daemon=True
        )
        retention.start()
        # One write at a time, by the writer thread; meanwhile this thread consumes and
        # decodes what arrives. When the write ends, its offsets are committed and all
        # that was decoded meanwhile is written next, as one batch (up to
        # batch_max_records): a record waits for the write under way and then its own,
        # never for a batch it is not in, and batches grow with the load by themselves.
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-write")
        in_flight: tuple[_Prepared, Future[dict[str, WriteResult]]] | None = None
        pending: _Prepared | None = None
        limit = self._settings.batch_max_records
        try:
            while not self.stop.is_set():
                if in_flight is not None and (
                    in_flight[1].done() or (pending is not None and len(pending.batch) >= limit)
                ):
                    self._finish(*in_flight)  # waits for the write when pending is full
                    in_flight = None
                if in_flight is None and pending is not None:
                    in_flight = (pending, writer.submit(self._write_once, self._stamp(pending)))
                    pending = None
                room = limit - (len(pending.batch) if pending is not None else 0)
                batch = [m for m in self._next(room, in_flight) if self._usable(m)]
                if batch:
                    pending = self._prepare(batch, pending)
                elif in_flight is None and pending is None:
                    self._settle_owed()
                self._commit_flushed()
            if in_flight is not None:
                self._finish(*in_flight)
            if pending is not None:  # decoded already: written and committed too
                self._stamp(pending)
                self._finish(pending, None)
            self.views.close()  # flushes what is left, so its batches are committed
            self._commit_flushed()
        except TRANSIENT:
            log.warning("stopping with a batch unwritten; it will be redelivered")
        finally:
            writer.shutdown(wait=True)
            self._consumer.close()  # commits nothing more; leaves the group
            self.views.close()
            log.info("sink stopped after %d batches", self.batches)

    def _next(
        self, room: int, in_flight: tuple[_Prepared, Future[dict[str, WriteResult]]] | None
    ) -> list[Message]:
        """Records to add to the next batch (at most ``room``). While a write is under
        way: what has arrived by its end, looked at every few milliseconds. With the
        writer free: as soon as one record is there, it and what arrives in the next
        ``batch_max_seconds``."""
        if in_flight is not None:
            wait([in_flight[1]], timeout=_WRITE_WATCH_SECONDS)
            return self._consumer.consume(room, timeout=0)
        first = self._consumer.poll(_IDLE_POLL_SECONDS)
        if first is None:
            return []
        if room <= 1:
            return [first]
        return [first, *self._consumer.consume(room - 1, timeout=self._linger)]

    def _usable(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return True
        if error.code() != KafkaError._PARTITION_EOF:
            self._throttle.warn("kafka", f"kafka: {error.str()}")
        return False

    def _retention_loop(self) -> None:
        """Off the consume loop. Each check deletes where expired documents are expected
        (on FerretDB: the front of each collection, a cost that follows what expires);
        once every ``retention_sweep_seconds`` the check is a sweep of whole collections
        (on FerretDB a scan of all that is stored, minutes at a million documents)."""
        every = self._settings.retention_sweep_seconds
        sweep_at = time.monotonic() + every
        while not self.stop.wait(self._settings.retention_check_seconds):
            sweep = bool(every) and time.monotonic() >= sweep_at
            if sweep:
                sweep_at = time.monotonic() + every
            self.enforce_retention(sweep=sweep)

    def enforce_retention(self, *, sweep: bool = False) -> None:
        try:
            deleted = self._store.enforce_retention(sweep=sweep)
        except StoreUnavailable as exc:
            self._throttle.warn("retention", f"retention delete failed: {exc}")
            return
        if deleted:
            log.info(
                "retention: deleted %d documents older than %s days",
                deleted,
                self._settings.retention_days,
            )


def _ends(batch: list[Message]) -> dict[tuple[str, int], int]:
    """The offset to commit per partition after ``batch``."""
    ends: dict[tuple[str, int], int] = {}
    for message in batch:
        key = (message.topic() or "", message.partition() or 0)
        ends[key] = max(ends.get(key, -1), (message.offset() or 0) + 1)
    return ends
