"""Property: every generated model survives model -> Avro bytes -> model, unchanged,
through the real registry (hypothesis draws records within the schema's rules)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from hypothesis import HealthCheck, given, settings

from iotpipe.contract.catalog import Contract, RecordType
from iotpipe.contract.serde import ContractSerde
from tests.avro_strategies import from_avro
from tests.scratch import RUN, Scratch

pytestmark = pytest.mark.timeout(300)

TOPIC = f"it-property-{RUN}-{uuid.uuid4().hex[:8]}"
CONTRACT = Contract(
    tuple(
        RecordType(schema_file=t.schema_file, schema=t.schema, topic=TOPIC)
        for t in Contract.load().record_types
    )
)


@pytest.fixture(scope="module")
def serde(endpoints: dict[str, str], module_scratch: Scratch) -> ContractSerde:
    module_scratch.push(TOPIC)  # the subjects are removed after the module
    return ContractSerde(SchemaRegistryClient({"url": endpoints["registry"]}), CONTRACT)


@pytest.mark.parametrize("record_type", CONTRACT.record_types, ids=lambda t: t.name)
def test_model_to_avro_to_model_is_identity(serde: ContractSerde, record_type: RecordType) -> None:
    model = record_type.model()

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=from_avro(record_type.schema))
    def round_trip(data: dict[str, Any]) -> None:
        record = model.model_validate(data)
        value = serde.encode(record, TOPIC)
        assert serde.decode(value, serde.headers(record), TOPIC) == record

    round_trip()
