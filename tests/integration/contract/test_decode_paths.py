"""The sink's decoding against the real registry (Apicurio): a record written with the
schema a codec was generated from is read by that codec, although the registry hands
the schema back rewritten (it drops ``"default": null``); a record written by another
producer with an older schema is read by fastavro, resolved to today's schema."""

from __future__ import annotations

import io
import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import parse_schema, schemaless_writer

from generated.models import SensorReading
from iotpipe.contract.catalog import canonical_json
from iotpipe.contract.serde import ContractSerde
from iotpipe.paths import REPO_DIR
from tests.scratch import Scratch
from tests.support import contract_on

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

EXAMPLE = json.loads((REPO_DIR / "generated/examples/dev.iotpipe.SensorReading.json").read_text())


def test_both_decoding_paths_against_the_registry(
    endpoints: dict[str, str], scratch: Scratch
) -> None:
    topic = scratch.topic_name("it-decode")  # its subjects, and {topic}-older, at the end
    scratch.push(topic)
    contract = contract_on(topic)
    client = SchemaRegistryClient({"url": endpoints["registry"]})
    serde = ContractSerde(client, contract)
    reading = SensorReading.model_validate(EXAMPLE)
    value = serde.encode(reading, topic)
    headers = serde.headers(reading)
    record_type = contract.by_name("SensorReading")
    stored = client.get_schema(int.from_bytes(value[1:5], "big")).schema_str or ""
    assert canonical_json(json.loads(stored)) != record_type.schema_str  # rewritten...
    assert serde.decode_plan(value) == (record_type.fullname, "generated")  # ...same layout
    assert serde.decode(value, headers, topic) == reading

    older = json.loads(record_type.schema_str)
    older["fields"] = [f for f in older["fields"] if f["name"] not in {"quality", "metadata"}]
    older_id = client.register_schema(f"{topic}-older", Schema(json.dumps(older), "AVRO"))
    body = io.BytesIO()
    schemaless_writer(
        body, parse_schema(older), reading.model_dump(exclude={"quality", "metadata"})
    )
    framed = b"\x00" + older_id.to_bytes(4, "big") + body.getvalue()
    assert serde.decode_plan(framed) == (record_type.fullname, "resolved")
    assert serde.decode(framed, headers, topic) == reading.model_copy(
        update={"quality": None, "metadata": {}}
    )
