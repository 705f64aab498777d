"""Artifacts for integrators, derived from the schemas and the generated models.

Run by ``iotpipe codegen`` as ``python -m iotpipe.contract.publish GENERATED_DIR`` with
that folder's parent first on ``PYTHONPATH``, so it describes the models just generated.
Writes ``jsonschema/<fullname>.json``, ``examples/<fullname>.json`` and
``asyncapi.json``; an example the generated model refuses stops the build.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from iotpipe import __version__
from iotpipe.contract.catalog import (
    COMPATIBILITY,
    DLQ_HEADER_PREFIX,
    DLQ_HEADERS,
    DLQ_TOPIC,
    RECORD_TYPE_HEADER,
    TOPIC,
    TRACE_HEADER,
    Contract,
    RecordType,
)
from iotpipe.contract.examples import example_payload

__all__ = ["asyncapi_document", "json_schema", "main"]

AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
KAFKA_BINDING = "0.5.0"


def _dump(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def json_schema(record_type: RecordType, example: dict[str, Any]) -> dict[str, Any]:
    schema = record_type.model().model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:iotpipe:schema:{record_type.fullname}",
        **schema,
        "examples": [example],
        "x-avro-subject": record_type.subject,
    }


def _headers(record_type: RecordType) -> dict[str, Any]:
    """Kafka headers ingest adds, none of them required: the value alone (its schema id)
    says what the record is, so a producer that writes no headers is read the same."""
    return {
        "type": "object",
        "description": "Optional extras; a record is read from its value alone. The record "
        "type is the full name of the writer schema that the value's schema id names.",
        "properties": {
            RECORD_TYPE_HEADER: {
                "type": "string",
                "const": record_type.fullname,
                "description": "Optional: the Avro full name of the record type, as ingest "
                "writes it. The writer schema decides; when present, this header must name "
                "the same type (the sink dead-letters a record whose header disagrees).",
            },
            TRACE_HEADER: {
                "type": "string",
                "description": "Optional: the W3C Trace Context of the request that produced "
                "the record.",
            },
        },
    }


def _message(record_type: RecordType, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": record_type.name,
        "title": record_type.fullname,
        "summary": record_type.schema.get("doc", ""),
        "contentType": "application/vnd.apache.avro+binary",
        "headers": _headers(record_type),
        "payload": {"schemaFormat": AVRO_FORMAT, "schema": record_type.schema},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "device_id of the record"},
                "schemaIdLocation": "payload",
                "schemaIdPayloadEncoding": "confluent",
                "schemaLookupStrategy": "TopicRecordNameStrategy",
                "bindingVersion": KAFKA_BINDING,
            }
        },
        "examples": [
            {
                "name": f"{record_type.name}Example",
                "summary": "JSON form of the payload, as the HTTP API takes it.",
                "headers": {RECORD_TYPE_HEADER: record_type.fullname},
                "payload": example,
            }
        ],
    }


def _dead_letter() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "A record the sink could not decode",
        "summary": "The original record, byte for byte (key, value, headers), plus headers "
        "saying why. `iotpipe dlq replay` re-drives those that decode again.",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": [DLQ_HEADER_PREFIX + name for name in DLQ_HEADERS],
            "properties": {
                DLQ_HEADER_PREFIX + name: {"type": "string", "description": description}
                for name, description in DLQ_HEADERS.items()
            },
        },
        "payload": {
            "type": "string",
            "format": "binary",
            "description": "The original value, unchanged.",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original key."},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def asyncapi_document(contract: Contract, examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    # Each record type's message, as the channel lists it and as its operations name it.
    component_refs = {
        t.name: {"$ref": f"#/components/messages/{t.name}"} for t in contract.record_types
    }
    channel_refs = [{"$ref": f"#/channels/sensorData/messages/{name}"} for name in component_refs]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "iotpipe Kafka contract",
            "version": __version__,
            "description": (
                f"Records on the Kafka topic {TOPIC}, Avro-encoded with the Confluent wire "
                "format (magic byte, 4-byte schema id, Avro binary). Subjects follow "
                f"TopicRecordNameStrategy ({TOPIC}-<namespace.Name>) with {COMPATIBILITY} "
                "compatibility. The key is the device id, so each device's records are "
                "ordered. Generated from schemas/*.avsc."
            ),
        },
        "defaultContentType": "application/vnd.apache.avro+binary",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The local stack (`iotpipe stack up`).",
            }
        },
        "channels": {
            "sensorData": {
                "address": TOPIC,
                "description": "Validated readings and device events, keyed by device id.",
                "messages": component_refs,
                "bindings": {"kafka": {"topic": TOPIC, "bindingVersion": KAFKA_BINDING}},
            },
            "sensorDataDlq": {
                "address": DLQ_TOPIC,
                "description": "Dead letters: records of sensor-data the sink could not decode.",
                "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
                "bindings": {"kafka": {"topic": DLQ_TOPIC, "bindingVersion": KAFKA_BINDING}},
            },
        },
        "operations": {
            "produceSensorData": {
                "action": "send",
                "channel": {"$ref": "#/channels/sensorData"},
                "summary": "ingest produces every record it accepted over HTTP or WebSocket.",
                "messages": channel_refs,
            },
            "consumeSensorData": {
                "action": "receive",
                "channel": {"$ref": "#/channels/sensorData"},
                "summary": "sink stores every record in MongoDB, routed by record type.",
                "messages": channel_refs,
            },
            "deadLetter": {
                "action": "send",
                "channel": {"$ref": "#/channels/sensorDataDlq"},
                "summary": "sink sends what it cannot decode here; the partition keeps flowing.",
                "messages": [{"$ref": "#/channels/sensorDataDlq/messages/DeadLetter"}],
            },
        },
        "components": {
            "messages": {
                **{t.name: _message(t, examples[t.fullname]) for t in contract.record_types},
                "DeadLetter": _dead_letter(),
            }
        },
    }


def main(target: Path) -> None:
    contract = Contract.load()
    examples = {}
    for record_type in contract.record_types:
        example = example_payload(record_type.schema)
        record_type.model().model_validate_json(json.dumps(example))  # refuses a bad example
        examples[record_type.fullname] = example
        _dump(target / "examples" / f"{record_type.fullname}.json", example)
        _dump(
            target / "jsonschema" / f"{record_type.fullname}.json",
            json_schema(record_type, example),
        )
    _dump(target / "asyncapi.json", asyncapi_document(contract, examples))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
