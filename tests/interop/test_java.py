"""A Java consumer from Maven Central (kafka-clients + Apicurio's Avro deserializer 3.x,
reading Confluent's framing with content ids) reads what our ingest produced, field for
field.

Records are posted through the real ingest app (real producer, real registry) on a topic
of its own; ``tests/interop/java`` (the docs' Java example) prints each record as JSON,
which must equal the posted payload in Avro's JSON form, with ingest's ``ingest_time``."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iotpipe.contract.registry import SchemaRegistry
from tests.integration.ingest.conftest import DEVICE, LiveIngest, live_ingest, live_settings
from tests.interop.builds import java_or_skip, maven_build, run
from tests.unit.ingest.conftest import device_event, reading

__all__ = ["live_ingest", "live_settings"]  # the real ingest app's fixtures, used here

pytestmark = pytest.mark.timeout(600)  # a fresh machine builds the consumer first

PROJECT = Path(__file__).parent / "java"
CCOMPAT, V3 = "/apis/ccompat/v7", "/apis/registry/v3"  # the same registry, its own API


@pytest.fixture(scope="module")
def java_classpath() -> str:
    java_or_skip()
    return maven_build(PROJECT)  # minutes on a fresh machine, then cached


def _posted() -> list[dict[str, Any]]:
    """Readings that exercise every field: optional ones set and left out, nested record
    with and without its optional field, non-ASCII and escaped text, awkward doubles."""
    return [
        _fresh(reading(quality="GOOD")),
        _fresh(reading(location=None, metadata={}, value=0.1 + 0.2)),
        _fresh(
            reading(
                sensor_id="pm2.5:front",
                sensor_kind="PM2_5",
                unit="µg/m³",
                value=-1e-7,
                location={"latitude": -33.8688, "longitude": 151.2093},
                quality="SUSPECT",
                metadata={"note": 'say "hi" \\ ✓', "firmware": "1.8.2"},
            )
        ),
        _fresh(reading(value=1e9, sensor_kind="CO2", unit="ppm")),
    ]


def _fresh(record: dict[str, Any]) -> dict[str, Any]:
    """A new event id, and the event time to the millisecond (the precision stored)."""
    moment = datetime.now(UTC).isoformat(timespec="milliseconds")
    return {**record, "event_id": str(uuid.uuid4()), "event_time": moment}


def _millis(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


def _avro_json(schema: Any, value: Any) -> Any:
    """``value`` (as posted) in Avro's JSON form of ``schema``: timestamps as epoch
    milliseconds, unions as their branch's value, left-out fields as their default."""
    if value is None:
        return None
    if isinstance(schema, list):  # ["null", X]
        return _avro_json(next(s for s in schema if s != "null"), value)
    if isinstance(schema, dict) and schema.get("logicalType") == "timestamp-millis":
        return _millis(value)
    if isinstance(schema, dict) and schema.get("type") == "record":
        return {
            f["name"]: _avro_json(f["type"], value[f["name"]]) if f["name"] in value
            else f.get("default")
            for f in schema["fields"]
        }  # fmt: skip
    return value


def test_java_consumer_decodes_every_field_ingest_produced(
    live_ingest: LiveIngest, endpoints: dict[str, str], java_classpath: str
) -> None:
    auth = {"Authorization": f"Bearer {live_ingest.device_key}"}
    readings = _posted()
    event = _fresh(device_event(rssi_dbm=-71, uptime_s=86_400_123, message="ok"))
    before = int(time.time() * 1000)
    post = live_ingest.client.post
    assert post("/v1/readings", json=readings[0], headers=auth).status_code == 202
    assert post("/v1/readings/batch", json=readings[1:], headers=auth).status_code == 202
    assert post("/v1/device-events", json=event, headers=auth).status_code == 202
    after = int(time.time() * 1000)

    printed = run(
        [java_or_skip(), "-cp", java_classpath, "dev.iotpipe.interop.Consume",
         endpoints["kafka"], endpoints["registry"].replace(CCOMPAT, V3), live_ingest.topic,
         str(len(readings) + 1)],
        timeout=60,
    )  # fmt: skip
    lines = [json.loads(line) for line in printed.splitlines()]

    registry = SchemaRegistry(endpoints["registry"])
    by_type = {t.fullname: t for t in live_ingest.contract.record_types}
    got = {}
    for line in lines:
        record_type = by_type[line["type"]]  # the writer schema's name routes the record
        latest = registry.raw_get(f"/subjects/{record_type.subject}/versions/latest")
        assert line["schema_id"] == latest["id"]  # the ccompat API's id is in the frame
        assert line["key"] == DEVICE
        value = line["value"]
        assert before <= value.pop("ingest_time") <= after
        got[value["event_id"]] = (record_type.fullname, value)

    for sent, fullname in [*((r, "dev.iotpipe.SensorReading") for r in readings),
                           (event, "dev.iotpipe.DeviceEvent")]:  # fmt: skip
        schema = by_type[fullname].schema
        expected = _avro_json(schema, sent)
        expected.pop("ingest_time")
        assert got.pop(sent["event_id"]) == (fullname, expected)
    assert got == {}
