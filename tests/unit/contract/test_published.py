"""What integrators get: JSON Schema, examples and the AsyncAPI document."""

from __future__ import annotations

import json

from iotpipe.contract.catalog import COMPATIBILITY, RECORD_TYPE_HEADER, TRACE_HEADER, Contract
from iotpipe.paths import REPO_DIR

GENERATED = REPO_DIR / "generated"


def test_subjects_follow_topic_record_name_strategy() -> None:
    contract = Contract.load()
    assert [t.subject for t in contract.record_types] == [
        "sensor-data-dev.iotpipe.DeviceEvent",
        "sensor-data-dev.iotpipe.SensorReading",
    ]
    assert COMPATIBILITY == "FULL_TRANSITIVE"


def test_every_schema_documents_every_field() -> None:
    def fields(schema: object) -> list[dict[str, object]]:
        found = []
        if isinstance(schema, list):
            for branch in schema:
                found += fields(branch)
        elif isinstance(schema, dict):
            if schema.get("type") == "record":
                for field in schema["fields"]:
                    found.append(field)
                    found += fields(field["type"])
            elif isinstance(schema.get("type"), dict | list):
                found += fields(schema["type"])
        return found

    for record_type in Contract.load().record_types:
        assert record_type.schema.get("namespace") == "dev.iotpipe"
        assert record_type.schema.get("doc")
        undocumented = [f["name"] for f in fields(record_type.schema) if not f.get("doc")]
        assert undocumented == [], f"{record_type.name}: {undocumented}"


def test_json_schema_per_record_type_carries_rules_and_example() -> None:
    for record_type in Contract.load().record_types:
        doc = json.loads((GENERATED / "jsonschema" / f"{record_type.fullname}.json").read_text())
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert doc["title"] == record_type.name
        assert doc["x-avro-subject"] == record_type.subject
        example = json.loads((GENERATED / "examples" / f"{record_type.fullname}.json").read_text())
        assert doc["examples"] == [example]
        assert set(doc["required"]) <= set(example)
    reading = json.loads((GENERATED / "jsonschema" / "dev.iotpipe.SensorReading.json").read_text())
    latitude = reading["$defs"]["GeoLocation"]["properties"]["latitude"]
    assert (latitude["minimum"], latitude["maximum"]) == (-90, 90)
    assert reading["properties"]["device_id"]["pattern"].startswith("^")


def test_asyncapi_describes_topic_messages_keys_and_headers() -> None:
    doc = json.loads((GENERATED / "asyncapi.json").read_text())
    assert doc["asyncapi"] == "3.0.0"
    channel = doc["channels"]["sensorData"]
    assert channel["address"] == "sensor-data"
    contract = Contract.load()
    assert set(channel["messages"]) == {t.name for t in contract.record_types}
    for record_type in contract.record_types:
        message = doc["components"]["messages"][record_type.name]
        assert message["payload"]["schemaFormat"].startswith("application/vnd.apache.avro")
        assert message["payload"]["schema"] == record_type.schema
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        headers = message["headers"]
        assert headers["properties"][RECORD_TYPE_HEADER]["const"] == record_type.fullname
        # Optional extras: the writer schema's full name is the record type.
        assert set(headers["properties"]) == {RECORD_TYPE_HEADER, TRACE_HEADER}
        assert "required" not in headers
    assert {op["action"] for op in doc["operations"].values()} == {"send", "receive"}
    dlq = doc["channels"]["sensorDataDlq"]
    assert dlq["address"] == "sensor-data.dlq"
    headers = doc["components"]["messages"]["DeadLetter"]["headers"]
    assert "iotpipe-dlq-source-offset" in headers["required"]
