"""A rollout counted by schema version, once the stream is over and the sinks drained.

Three sources, each read once: the driver's ledger (which version of ingest
acknowledged each reading, and the field's value where a client sent it), the topic
(every SensorReading record's writer schema id, event_id and value, decoded with the
writer schema the registry holds for that id) and the database (every stored reading's
``battery_v``, from FerretDB's SQLite file as :func:`~iotpipe.chaos.verdict.count_stored`
reads it, else one projected scan). :func:`by_version` puts them together: per version,
acknowledged, records in the topic, stored, lost, duplicated, and where the new field was
sent, stored as sent, and stored where it was not sent.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections import Counter
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from fastavro import parse_schema, schemaless_reader
from pymongo import MongoClient

__all__ = ["TopicRecords", "by_version", "read_topic", "stored_field"]

_FRAME = 5


@dataclass
class TopicRecords:
    """The topic's SensorReading records: (event_id, writer schema id, value), in order."""

    records: list[tuple[str, int, float]] = field(default_factory=list)
    other_types: int = 0  # records of another record type (device events)

    def per_writer(self) -> Counter[int]:
        return Counter(schema_id for _, schema_id, _ in self.records)

    def writers(self) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        for event_id, schema_id, _ in self.records:
            found.setdefault(event_id, set()).add(schema_id)
        return found


def read_topic(kafka: str, registry_url: str, topic: str, record: str) -> TopicRecords:
    """Every record of ``topic`` now, from each partition's start to its end; those whose
    writer schema is the record type ``record`` (full name) decoded with it."""
    registry = SchemaRegistryClient({"url": registry_url})
    writers: dict[int, Any] = {}  # schema id -> parsed writer schema, None: another type
    consumer = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": "chaos-rollout-count",
            "enable.auto.commit": False,
        }
    )
    found = TopicRecords()
    try:
        metadata = consumer.list_topics(topic, timeout=30).topics[topic]
        ends: dict[int, int] = {}
        assigned = []
        for number in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, number), timeout=30)
            if high > low:
                assigned.append(TopicPartition(topic, number, low))
                ends[number] = high
        consumer.assign(assigned)
        while ends:
            batch = consumer.consume(5000, timeout=10.0)
            if not batch:
                raise TimeoutError(f"{topic}: no record for 10 s with {ends} still to read")
            for message in batch:
                if message.error() is not None:
                    continue
                value = message.value() or b""
                schema_id = int.from_bytes(value[1:_FRAME], "big")
                if schema_id not in writers:
                    writers[schema_id] = _writer(registry, schema_id, record)
                writer = writers[schema_id]
                if writer is None:
                    found.other_types += 1
                else:
                    body: Any = schemaless_reader(io.BytesIO(value[_FRAME:]), writer, None)
                    found.records.append((str(body["event_id"]), schema_id, body["value"]))
                partition, offset = message.partition(), message.offset() or 0
                if partition in ends and offset + 1 >= ends[partition]:
                    del ends[partition]
    finally:
        consumer.close()
    return found


def _writer(registry: SchemaRegistryClient, schema_id: int, record: str) -> Any:
    schema = json.loads(registry.get_schema(schema_id).schema_str or "{}")
    name = schema.get("name", "")
    fullname = name if "." in name else f"{schema.get('namespace', '')}.{name}"
    return parse_schema(schema, named_schemas={}) if fullname == record else None


def stored_field(
    mongo_uri: str, database: str, name: str, sqlite_dir: Path | None = None
) -> dict[str, Any]:
    """event_id -> the stored reading's field ``name``, where it holds a value (not null)."""
    path = None if sqlite_dir is None else sqlite_dir / f"{database}.sqlite"
    if path is not None and path.is_file():
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
            table = db.execute(
                "SELECT table_name FROM _ferretdb_collections WHERE name = 'readings'"
            ).fetchone()
            if table is None:
                return {}
            rows = db.execute(
                # -> keeps the value as JSON text: read by Python, a double is exact.
                f"SELECT _ferretdb_sjson->>'$.event_id', _ferretdb_sjson->'$.{name}' "  # noqa: S608 - FerretDB's own table, our field
                f'FROM "{table[0]}"'
            )
            values = ((event_id, json.loads(text)) for event_id, text in rows if text)
            return {str(event_id): value for event_id, value in values if value is not None}
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, serverSelectionTimeoutMS=20_000)
    try:
        cursor = client[database]["readings"].find(
            {name: {"$ne": None}}, {"event_id": 1, name: 1, "_id": 0}, batch_size=20_000
        )
        return {str(doc["event_id"]): doc[name] for doc in cursor if doc.get(name) is not None}
    finally:
        client.close()


def by_version(
    *,
    schema_ids: Mapping[str, int],
    acknowledged_by: Mapping[str, str],
    stored: Counter[str],
    stored_values: Mapping[str, Any],
    topic: TopicRecords,
    sent_field: Mapping[str, float],
    field_name: str,
) -> list[dict[str, Any]]:
    """One row per version (``schema_ids``: version -> its writer schema id): readings its
    ingest acknowledged; records in the topic with its writer id; of its acknowledged
    readings: stored, lost, duplicated (documents beyond one), and in the topic under no
    record of its writer id (``other_writer``); the field sent (acknowledged readings that
    carried it), stored with the value sent, and stored where it was not sent (the
    keys: :data:`~iotpipe.chaos.report.VERSION_COLUMNS`, and ``field``: ``field_name``)."""
    per_writer, writers = topic.per_writer(), topic.writers()
    rows = []
    for version, schema_id in schema_ids.items():
        acknowledged = [e for e, v in acknowledged_by.items() if v == version]
        carried = [e for e in acknowledged if e in sent_field]
        rows.append(
            {
                "version": version,
                "writer_schema_id": schema_id,
                "acknowledged": len(acknowledged),
                "in_topic": per_writer[schema_id],
                "stored": sum(1 for e in acknowledged if stored[e] > 0),
                "lost": sum(1 for e in acknowledged if stored[e] == 0),
                "duplicated": sum(stored[e] - 1 for e in acknowledged if stored[e] > 1),
                "other_writer": sum(1 for e in acknowledged if schema_id not in writers.get(e, ())),
                "field_sent": len(carried),
                "field_as_sent": sum(1 for e in carried if stored_values.get(e) == sent_field[e]),
                "field_where_not_sent": sum(
                    1 for e in acknowledged if e not in sent_field and e in stored_values
                ),
                "field": field_name,
            }
        )
    return rows
