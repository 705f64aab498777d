"""What one reading costs at each stage of the pipeline, in microseconds of this process's
CPU: where the next bottleneck is. Each stage runs the pipeline's own code on the
workload's readings, in one process, with nothing else of ours running:

* ``parse_validate``: a batch body of 1,000 readings as ingest takes it (strict JSON,
  the contract's models and ingest's policy: ``parse_json`` + ``accept_all``);
* ``encode``: the generated codec, behind the Confluent frame (``encode_framed``);
* ``produce``: confluent-kafka's ``produce`` and the delivery reports (acks=all), the
  values encoded beforehand; the process's CPU, librdkafka's threads included;
* ``decode``: the sink's decoding (frame, generated decoder, the model's validation);
* ``document``: the sink's document for the database (``to_document``);
* ``write``: pymongo's side of an unordered bulk insert of those documents (the
  database's own CPU is not in it; ``write_wall_us`` is the wall time per document).
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from pymongo import MongoClient

from ingest.api.body import parse_json
from ingest.domain.accept import Policy, Receipt, accept_all
from ingest.main import ingest_producer_config
from ingest.settings import IngestSettings
from iotpipe.bench.workload import batch_body
from iotpipe.contract.catalog import RECORD_TYPE_HEADER, TRACE_HEADER, Contract, new_traceparent
from iotpipe.contract.serde import ContractSerde
from sink.documents import to_document

__all__ = ["STAGES", "stage_costs"]

STAGES = ("parse_validate", "encode", "produce", "decode", "document", "write")
BATCH = 1000


def _cpu_us_per(count: int, action: Callable[[], Any], clock: Callable[[], float]) -> float:
    began = clock()
    action()
    return (clock() - began) * 1e6 / count


@contextmanager
def _ingest_runtime(settings: IngestSettings) -> Iterator[None]:
    """The garbage collector as an ingest server process has it (``tune_runtime``), for
    the stages that run in ingest; the sink runs with Python's defaults."""
    threshold = gc.get_threshold()
    if settings.gc_gen0_threshold:
        gc.set_threshold(settings.gc_gen0_threshold, *threshold[1:])
    if settings.gc_freeze:
        gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def stage_costs(endpoints: dict[str, str], topic: str, *, rounds: int = 10) -> dict[str, float]:
    """Microseconds of CPU per reading for each stage (``STAGES``), and the write's wall
    time per document; ``topic`` must carry the contract's subjects."""
    contract = Contract.load().on_topic(topic)
    record_type = contract.by_name("SensorReading")
    model = record_type.model()
    settings = IngestSettings()
    policy = Policy(
        timedelta(seconds=settings.max_future_skew_seconds),
        timedelta(seconds=settings.max_age_seconds),
    )
    body = batch_body(BATCH)
    serde = ContractSerde(SchemaRegistryClient({"url": endpoints["registry"]}), contract)
    frame = serde.frame(record_type, topic)
    codec = serde.codec(record_type)
    count = BATCH * rounds
    out: dict[str, float] = {}

    def validate() -> list[Any]:
        return accept_all(parse_json(body), model, Receipt(policy, size=BATCH))

    validate()  # warm: validators built, first-call paths taken
    records = [verdict.record for verdict in validate()]
    values = [v for v in codec.encode_framed(frame, records) if isinstance(v, bytes)]
    with _ingest_runtime(settings):
        out["parse_validate"] = _cpu_us_per(
            count, lambda: [validate() for _ in range(rounds)], time.thread_time
        )
        out["encode"] = _cpu_us_per(
            count, lambda: [codec.encode_framed(frame, records) for _ in range(rounds)],
            time.thread_time,
        )  # fmt: skip
        out["produce"] = _cpu_us_per(
            count, lambda: _produce(endpoints["kafka"], topic, (records, values), rounds),
            time.process_time,
        )  # fmt: skip
    headers = [(RECORD_TYPE_HEADER, record_type.fullname.encode())]
    serde.decode(values[0], headers, topic)  # warm: the writer schema fetched
    out["decode"] = _cpu_us_per(
        count,
        lambda: [[serde.decode(v, headers, topic) for v in values] for _ in range(rounds)],
        time.thread_time,
    )
    decoded = [serde.decode(v, headers, topic) for v in values]
    stored = datetime.now(UTC)
    out["document"] = _cpu_us_per(
        count,
        lambda: [
            [to_document(r, partition=0, offset=i, stored=stored) for i, r in enumerate(decoded)]
            for _ in range(rounds)
        ],
        time.thread_time,
    )
    out.update(_write(endpoints["mongodb"], decoded, stored, rounds))
    return {k: round(v, 2) for k, v in out.items()}


def _produce(kafka: str, topic: str, encoded: tuple[list[Any], list[bytes]], rounds: int) -> None:
    records, values = encoded
    producer = Producer(ingest_producer_config(IngestSettings(), kafka))
    failures: list[str] = []

    def report(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    headers: list[tuple[str, str | bytes | None]] = [
        (RECORD_TYPE_HEADER, b"dev.iotpipe.SensorReading"),
        (TRACE_HEADER, new_traceparent().encode()),
    ]
    keys = [r.device_id.encode() for r in records]
    for _ in range(rounds):
        for key, value in zip(keys, values, strict=True):
            while True:
                try:
                    producer.produce(topic, value, key, on_delivery=report, headers=headers)
                    break
                except BufferError:
                    producer.poll(0.01)
            producer.poll(0)
    if producer.flush(60) != 0 or failures:
        raise RuntimeError(f"the stage run could not deliver every reading: {failures[:1]}")


def _write(uri: str, decoded: list[Any], stored: datetime, rounds: int) -> dict[str, float]:
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    database = f"bench_stages_{uuid.uuid4().hex[:8]}"
    collection = client[database]["readings"]
    collection.create_index("event_id", unique=True)
    batches = [
        [
            {**to_document(r, partition=0, offset=i, stored=stored), "event_id": f"{n}-{i}"}
            for i, r in enumerate(decoded)
        ]
        for n in range(rounds)
    ]
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for batch in batches:
            collection.insert_many(batch, ordered=False)
        count = sum(len(b) for b in batches)
        return {
            "write": (time.process_time() - cpu) * 1e6 / count,
            "write_wall_us": (time.perf_counter() - wall) * 1e6 / count,
        }
    finally:
        client.drop_database(database)
        client.close()
