"""Read iotpipe's topic with confluent-kafka alone: every record and its type.

    pip install "confluent-kafka[avro,schemaregistry]"
    python consume.py --bootstrap 127.0.0.1:9092 \
        --registry http://127.0.0.1:8081/apis/ccompat/v7 --count 10

Each value is in the Confluent wire format: a zero byte, the 4-byte id of the writer
schema in the registry, then the Avro body. The record's type is that writer schema's
full name (``dev.iotpipe.SensorReading`` or ``dev.iotpipe.DeviceEvent``); the headers
``iotpipe-record-type`` and ``traceparent`` are extras a record may lack. Prints one JSON
line per record. (The test tests/integration/docs/test_consume_example.py runs it.)
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def record_type(registry: SchemaRegistryClient, value: bytes) -> str:
    """The full name of the writer schema named by the frame's schema id (cached by the
    client after the first lookup of each id)."""
    schema_id = int.from_bytes(value[1:5], "big")
    schema = json.loads(registry.get_schema(schema_id).schema_str or "{}")
    name: str = schema["name"]
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--registry", default="http://127.0.0.1:8081/apis/ccompat/v7")
    parser.add_argument("--topic", default="sensor-data")
    parser.add_argument("--group", default=f"consume-example-{uuid.uuid4().hex[:8]}")
    parser.add_argument("--count", type=int, default=10, help="stop after this many records")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after N idle s")
    args = parser.parse_args()

    registry = SchemaRegistryClient({"url": args.registry})
    # No reader schema: each record is decoded with its writer schema, into a dict.
    deserializer = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([args.topic])
    seen = 0
    try:
        while seen < args.count:
            message = consumer.poll(args.timeout)
            if message is None:
                break  # nothing more arrived
            if message.error():
                raise SystemExit(f"kafka: {message.error()}")
            value = message.value()
            if not value or value[0] != 0:
                continue  # not the Confluent wire format: not a record of the contract
            context = SerializationContext(args.topic, MessageField.VALUE)
            record: dict[str, Any] = deserializer(value, context)
            headers = {}  # optional extras: iotpipe-record-type, traceparent
            for name, raw in list(message.headers() or []):
                if isinstance(raw, bytes):
                    headers[name] = raw.decode()
            line = {
                "type": record_type(registry, value),
                "key": (message.key() or b"").decode(),
                "partition": message.partition(),
                "offset": message.offset(),
                "headers": headers,
                "record": record,
            }
            sys.stdout.write(json.dumps(line, default=str) + "\n")
            sys.stdout.flush()
            seen += 1
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
