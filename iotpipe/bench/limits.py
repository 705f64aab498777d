"""The limits each pipeline figure is held to, measured the same way in the same run."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from pymongo import MongoClient

from generated.models import SensorReading
from ingest.publisher.kafka import producer_config
from ingest.settings import IngestSettings
from iotpipe.bench.workload import readings
from iotpipe.contract.catalog import TRACE_HEADER, Contract, new_traceparent
from iotpipe.contract.serde import ContractSerde
from sink.documents import to_document
from sink.store.mongo import MongoStore

__all__ = ["as_ingested", "bare_database", "bare_producer"]


def as_ingested(count: int) -> list[SensorReading]:
    """The workload's readings as ingest writes them: stamped with ``ingest_time`` (the
    receive time of their request)."""
    stamped = datetime.now(UTC)
    return [SensorReading.model_validate({**r, "ingest_time": stamped}) for r in readings(count)]


def bare_producer(kafka: str, registry: str, contract: Contract, topic: str, count: int) -> float:
    """Readings/s: confluent-kafka with ingest's producer settings and the same Avro
    serializer (model -> bytes), no HTTP and no validation of JSON. The records are the
    ones ingest writes: stamped with ``ingest_time``, with the trace header. Each record's
    delivery report is taken (as ingest must, to answer for each record), and a failed
    one fails the run: ``flush`` alone also empties the queue of records that failed. Leaves
    ``count`` readings in ``topic`` (the sink phase consumes them)."""
    settings = IngestSettings()
    producer = Producer(
        producer_config(
            kafka,
            delivery_timeout_ms=settings.delivery_timeout_ms,
            queue_max_records=settings.queue_max_records,
            compression=settings.compression,
            linger_ms=settings.linger_ms,
        )
    )
    serde = ContractSerde(SchemaRegistryClient({"url": registry}), contract)
    models = as_ingested(count)
    trace = new_traceparent().encode()
    serde.encode(models[0], topic)  # schema lookup, not timed
    failures: list[str] = []

    def report(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    began = time.perf_counter()
    for model in models:
        while True:
            try:
                producer.produce(
                    topic,
                    key=model.device_id.encode(),
                    value=serde.encode(model, topic),
                    headers=[*serde.headers(model), (TRACE_HEADER, trace)],
                    on_delivery=report,
                )
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    if producer.flush(60) != 0 or failures:
        first = f": {failures[0]}" if failures else ""
        raise RuntimeError(
            f"the bare producer could not deliver every reading ({len(failures)} failed{first})"
        )
    return count / (time.perf_counter() - began)


def bare_database(uri: str, count: int, batch: int) -> float:
    """Docs/s: pymongo unordered bulk inserts of the sink's documents, in the sink's batch
    size, into a fresh database with the sink's indexes."""
    database = f"bench_bare_{uuid.uuid4().hex[:8]}"
    store = MongoStore.connect(uri, database, timedelta(days=30))
    store.prepare()
    now = datetime.now(UTC)
    docs: list[dict[str, Any]] = [
        to_document(record, partition=0, offset=i, stored=now)
        for i, record in enumerate(as_ingested(count))
    ]
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    collection = client[database]["readings"]
    try:
        began = time.perf_counter()
        for start in range(0, count, batch):
            collection.insert_many(docs[start : start + batch], ordered=False)
        return count / (time.perf_counter() - began)
    finally:
        client.drop_database(database)
        client.close()
        store.close()
