"""The limits each pipeline figure is held to, measured the same way in the same run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.schema_registry import (
    SchemaRegistryClient,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from pydantic import BaseModel
from pymongo import MongoClient

from generated.models import SensorReading
from ingest.main import ingest_producer_config
from ingest.settings import IngestSettings
from iotpipe.bench.workload import readings
from iotpipe.contract.catalog import TRACE_HEADER, Contract, new_traceparent
from iotpipe.contract.serde import ContractSerde
from sink.documents import to_document
from sink.store.mongo import MongoStore

__all__ = ["ENCODERS", "as_ingested", "avro_serializer", "bare_database", "bare_producer"]

Encoder = Literal["generated", "avroserializer"]
ENCODERS: tuple[Encoder, ...] = ("generated", "avroserializer")


def as_ingested(count: int) -> list[SensorReading]:
    """The workload's readings as ingest writes them: stamped with ``ingest_time`` (the
    receive time of their request)."""
    stamped = datetime.now(UTC)
    return [SensorReading.model_validate({**r, "ingest_time": stamped}) for r in readings(count)]


def avro_serializer(
    registry: SchemaRegistryClient, contract: Contract, topic: str
) -> Callable[[BaseModel], bytes]:
    """model -> Kafka value through confluent-kafka's own AvroSerializer, configured as
    ingest's serde was before the generated codecs (TopicRecordNameStrategy, the schema's
    id looked up, never registered; ``model_dump`` as ``to_dict``): the encoder the
    earlier runs' limit was measured with. Writes the same bytes as :class:`ContractSerde`
    (a unit test holds them equal)."""
    record_type = contract.on_topic(topic).by_name("SensorReading")
    serializer = AvroSerializer(
        registry,
        record_type.schema_str,
        to_dict=lambda model, _ctx: model.model_dump(),
        conf={
            "auto.register.schemas": False,
            "use.latest.version": False,
            "subject.name.strategy": topic_record_subject_name_strategy,
        },
    )
    ctx = SerializationContext(topic, MessageField.VALUE)

    def encode(model: BaseModel) -> bytes:
        return cast(bytes, serializer(model, ctx))  # None only for a None model

    return encode


def bare_producer(  # noqa: PLR0917 - the stack's endpoints, what and where
    kafka: str,
    registry: str,
    contract: Contract,
    topic: str,
    count: int,
    encoder: Encoder = "generated",
) -> float:
    """Readings/s: confluent-kafka with ingest's producer settings and an Avro encoder
    (model -> bytes), no HTTP and no validation of JSON. ``encoder`` is ``generated``,
    ingest's own (:class:`ContractSerde`, the generated codec: the limit), or
    ``avroserializer`` (:func:`avro_serializer`, the earlier runs' limit). The records are
    the ones ingest writes: stamped with ``ingest_time``, with the trace header. Each
    record's delivery report is taken (as ingest must, to answer for each record), and a
    failed one fails the run: ``flush`` alone also empties the queue of records that
    failed. Leaves ``count`` readings in ``topic`` (the sink phase consumes them)."""
    producer = Producer(ingest_producer_config(IngestSettings(), kafka))
    client = SchemaRegistryClient({"url": registry})
    serde = ContractSerde(client, contract)
    encode: Callable[[BaseModel], bytes] = (
        (lambda model: serde.encode(model, topic))
        if encoder == "generated"
        else avro_serializer(client, contract, topic)
    )
    models = as_ingested(count)
    trace = new_traceparent().encode()
    encode(models[0])  # schema lookup, not timed
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
                    value=encode(model),
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
