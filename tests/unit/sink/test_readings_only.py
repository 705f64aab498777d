"""IOTPIPE_SINK_VIEWS=false (a bench setting): readings only, no rollups or device status,
offsets committed all the same; the default keeps the views."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from iotpipe.contract.catalog import Contract
from iotpipe.contract.serde import ContractSerde
from sink.settings import SinkSettings
from sink.store.memory import MemoryStore
from tests.unit.sink.fakes import FakeConsumer, FakeDeadLetters
from tests.unit.sink.test_runner import (  # the runner tests' helpers and serde fixture
    messages,
    reading,
    run_until_drained,
    runner_for,
)


@pytest.fixture
def serde() -> ContractSerde:
    registry = SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})
    return ContractSerde(registry, Contract.load(), auto_register=True)


def test_the_views_are_on_by_default() -> None:
    assert SinkSettings().views is True


@pytest.mark.parametrize("flush_seconds", [0.0, 0.05])
def test_without_views_the_sink_stores_readings_only(
    serde: ContractSerde, flush_seconds: float
) -> None:
    consumer, store = FakeConsumer(messages(serde, [reading(i) for i in range(30)])), MemoryStore()
    runner = runner_for(consumer, serde, store, FakeDeadLetters(), views=False,
                        views_flush_seconds=flush_seconds)  # fmt: skip
    run_until_drained(runner, consumer)
    assert len(store.collections["readings"]) == 30
    assert consumer.committed[("sensor-data", 0)] == 30
    assert store.rollups == {} and store.statuses == {}


def test_with_views_the_same_readings_make_rollups_and_statuses(serde: ContractSerde) -> None:
    consumer, store = FakeConsumer(messages(serde, [reading(i) for i in range(30)])), MemoryStore()
    run_until_drained(runner_for(consumer, serde, store, FakeDeadLetters()), consumer)
    assert sum(r["count"] for r in store.rollups.values()) == 30
    assert store.statuses
