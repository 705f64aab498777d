"""The job store on a compacted Kafka topic: key = job id, value = the job as JSON.

One consumer (assigned, never committing) reads the topic's one partition from the
beginning; each ``read`` goes on up to the end offset asked of the broker at that moment,
so it returns every record any replica saved before it (compaction keeps at least the
latest record of each key; a replica folds what it reads: ingest.jobs.lease). Saving
produces with ``acks=all`` and waits for the acknowledgement, on the same one worker
thread, so that a job's writes reach the topic in the order they were made. A missing
topic is created (compacted, retention forever, one partition) before the first read,
and an existing one that is not compacted or has more partitions is refused, so a
broker's auto-creation with ``cleanup.policy=delete`` can never silently expire job state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from ingest.jobs.errors import StoreError
from ingest.jobs.model import Job
from iotpipe.errors import IotpipeError
from iotpipe.logs import RepeatsDropped

__all__ = ["KafkaJobStore"]

log = logging.getLogger("iotpipe.ingest.jobs")
_rdkafka_log = logging.getLogger("iotpipe.ingest.jobs.rdkafka")
_rdkafka_log.addFilter(RepeatsDropped(30.0))  # a broker down is reported on each reconnect


class KafkaJobStore:
    def __init__(self, bootstrap: str, topic: str, *, timeout: float = 15.0) -> None:
        self.topic = topic
        self._bootstrap = bootstrap
        self._timeout = timeout
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-jobs-store")
        self._closed = False
        self._consumer: Consumer | None = None  # made on the first read, on the worker thread
        self._next = 0  # the offset of the next record to read
        self._pending: list[Job] = []  # read, not yet handed out
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 0,
                "message.timeout.ms": int(timeout * 1000),
                "logger": _rdkafka_log,
            }
        )

    async def read(self) -> list[Job]:
        return await asyncio.get_running_loop().run_in_executor(self._io, self._read)

    async def save(self, job: Job) -> None:
        value = json.dumps(job.as_dict(), separators=(",", ":")).encode()
        await asyncio.get_running_loop().run_in_executor(
            self._io, self._produce, job.id.encode(), value
        )

    async def close(self) -> None:
        """Flush and stop; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        # Not on the store's own thread: a load still waiting there on an unreachable
        # broker would hold the flush, and the worker's exit, for its whole timeout.
        await asyncio.to_thread(self._producer.flush, 5.0)
        self._io.submit(self._close_consumer)
        self._io.shutdown(wait=False)

    def _close_consumer(self) -> None:
        if self._consumer is not None:
            self._consumer.close()

    # -- worker thread -----------------------------------------------------------------
    def _ensure(self) -> None:
        """Create the topic if it is missing; an existing one is only checked (its
        durability settings are the operator's: ``iotpipe topics ensure``)."""
        from iotpipe.kafka_admin import KafkaTopicAdmin  # noqa: PLC0415
        from iotpipe.topics import ensure_topics, jobs_topic_spec  # noqa: PLC0415

        try:
            admin = KafkaTopicAdmin(self._bootstrap, timeout=self._timeout)
            state = admin.describe([self.topic]).get(self.topic)
            if state is None:
                replicas = min(3, admin.broker_count())
                spec = jobs_topic_spec(
                    topic=self.topic,
                    replication_factor=replicas,
                    min_insync_replicas=max(1, replicas - 1),
                )
                for line in ensure_topics(admin, [spec]).done:
                    log.info("jobs topic: %s", line)
                return
        except IotpipeError as exc:
            raise StoreError(f"jobs topic {self.topic}: {exc}") from exc
        if state.partitions != 1:
            raise StoreError(
                f"jobs topic {self.topic} has {state.partitions} partitions; it needs one, "
                "so every replica reads the jobs' records in one order (the claim rule)"
            )
        policy = state.configs.get("cleanup.policy")
        if policy != "compact":
            raise StoreError(
                f"jobs topic {self.topic} has cleanup.policy={policy}, so job state would "
                "expire; make it compacted (iotpipe topics ensure) or name another topic "
                "(IOTPIPE_INGEST_JOBS_TOPIC)"
            )

    def _read(self) -> list[Job]:
        if self._consumer is None:
            self._ensure()
            self._consumer = Consumer(
                {
                    "bootstrap.servers": self._bootstrap,
                    "group.id": f"iotpipe-jobs-read-{uuid.uuid4().hex[:8]}",  # never commits
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "logger": _rdkafka_log,
                }
            )
            self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        try:
            self._read_to_end(self._consumer)
        except KafkaException as exc:
            raise StoreError(f"cannot read jobs topic {self.topic}: {exc}") from exc
        fresh, self._pending = self._pending, []
        return fresh

    def _read_to_end(self, consumer: Consumer) -> None:
        """Read up to the end offset as of now (records read before a failure are kept
        for the next call: the consumer's position has moved past them)."""
        partition = TopicPartition(self.topic, 0)
        low, high = consumer.get_watermark_offsets(partition, timeout=self._timeout, cached=False)
        self._next = max(self._next, low)  # compaction and retention move the start
        while self._next < high:
            message = consumer.poll(self._timeout)
            if message is None:
                raise StoreError(f"jobs topic {self.topic}: no records within {self._timeout}s")
            error = message.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                raise StoreError(f"jobs topic {self.topic}: {error.str()}")
            offset = message.offset() or 0
            if error is not None:  # the end as the consumer saw it
                self._next = max(self._next, offset)
                continue
            self._next = offset + 1
            value = message.value()
            if value and (job := _job(value)):
                self._pending.append(job)

    def _produce(self, key: bytes, value: bytes) -> None:
        failures: list[str] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error.str())

        try:
            self._producer.produce(self.topic, key=key, value=value, on_delivery=delivered)
        except (BufferError, KafkaException) as exc:
            raise StoreError(f"cannot write to jobs topic {self.topic}: {exc}") from exc
        if self._producer.flush(self._timeout) or failures:
            reason = failures[0] if failures else f"no acknowledgement within {self._timeout}s"
            raise StoreError(f"cannot write to jobs topic {self.topic}: {reason}")


def _job(value: bytes) -> Job | None:
    try:
        data: Any = json.loads(value)
        return Job.from_dict(data)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("jobs topic: skipping a record that is not a job (%s)", exc)
        return None
