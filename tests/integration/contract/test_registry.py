"""The contract against the real registry: push, compatibility, schema evolution."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from pydantic import create_model

from generated.models import SensorReading
from iotpipe.contract.catalog import Contract, RecordType
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.contract.serde import ContractSerde
from iotpipe.paths import REPO_DIR
from tests.scratch import Scratch
from tests.support import run_cli

EXAMPLE = json.loads((REPO_DIR / "generated/examples/dev.iotpipe.SensorReading.json").read_text())
READING = Contract.load().by_name("SensorReading")


@pytest.fixture
def registry(endpoints: dict[str, str]) -> Iterator[SchemaRegistry]:
    client = SchemaRegistry(endpoints["registry"])
    yield client
    client.close()


def on_topic(topic: str, schema: dict[str, Any]) -> Contract:
    """The reading record type with another schema, on a topic of its own (own subject)."""
    return Contract((RecordType(schema_file=READING.schema_file, schema=schema, topic=topic),))


def evolved(**field: Any) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(READING.schema_str)
    schema["fields"].append(field)
    return schema


def test_push_registers_every_subject_with_full_transitive(
    registry: SchemaRegistry, scratch: Scratch
) -> None:
    prefix = f"{scratch.topic_name('it-push')}-"  # subjects of that name's family
    contract = Contract.load()
    first = registry.push(contract, prefix=prefix)
    assert [r.subject for r in first] == [prefix + t.subject for t in contract.record_types]
    assert {r.compatibility for r in first} == {"FULL_TRANSITIVE"}
    assert {r.version for r in first} == {1}
    again = registry.push(contract, prefix=prefix)  # idempotent: same ids, no new version
    assert [(r.schema_id, r.version) for r in again] == [(r.schema_id, 1) for r in first]
    assert all(r.status == "compatible" for r in registry.check_contract(contract, prefix=prefix))


def test_compatible_change_passes_and_old_and_new_messages_both_decode(
    registry: SchemaRegistry, endpoints: dict[str, str], scratch: Scratch
) -> None:
    topic = scratch.topic_name("it-evolve")
    v1 = on_topic(topic, json.loads(READING.schema_str))
    v2 = on_topic(
        topic,
        evolved(name="firmware_build", type=["null", "string"], default=None, doc="Added in v2."),
    )
    registry.push(v1)
    client = SchemaRegistryClient({"url": endpoints["registry"]})
    old = ContractSerde(client, v1)
    old_bytes = old.encode(SensorReading.model_validate(EXAMPLE), topic)

    assert [r.status for r in registry.check_contract(v2)] == ["compatible"]
    assert registry.push(v2)[0].version == 2

    model_v2 = create_model(
        "SensorReading", __base__=SensorReading, firmware_build=(str | None, None)
    )
    new = ContractSerde(client, v2, models={READING.fullname: model_v2})
    new_record = model_v2.model_validate({**EXAMPLE, "firmware_build": "b-42"})
    new_bytes = new.encode(new_record, topic)
    headers = new.headers(new_record)

    from_old = new.decode(old_bytes, headers, topic)  # old data, new reader: default filled
    assert from_old.model_dump() == {
        **SensorReading.model_validate(EXAMPLE).model_dump(),
        "firmware_build": None,
    }
    assert new.decode(new_bytes, headers, topic) == new_record
    from_new = old.decode(new_bytes, headers, topic)  # new data, old reader: field carried
    assert isinstance(from_new, SensorReading)
    assert from_new.model_dump() == {
        **SensorReading.model_validate(EXAMPLE).model_dump(),
        "firmware_build": "b-42",
    }


def test_cli_push_then_check(endpoints: dict[str, str]) -> None:
    env = {**os.environ, "IOTPIPE_REGISTRY_URL": endpoints["registry"]}
    pushed = run_cli("schemas", "push", env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert "sensor-data-dev.iotpipe.SensorReading: id" in pushed.stdout
    assert "FULL_TRANSITIVE" in pushed.stdout
    checked = run_cli("schemas", "check", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("compatible") == 2
