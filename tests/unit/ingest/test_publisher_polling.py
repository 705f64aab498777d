"""When the event loop polls the producer for delivery reports (loop mode)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from ingest.publisher.kafka import KafkaPublisher
from iotpipe.contract.serde import ContractSerde


class _Reports:
    """Stands in for the producer: ``poll`` serves no report."""

    def poll(self, _timeout: float) -> int:
        return 0

    def __len__(self) -> int:
        return 0


def _publisher(spin_below: int) -> KafkaPublisher:
    publisher = KafkaPublisher(
        config={"bootstrap.servers": ""},  # no broker: nothing is contacted
        serde=cast("ContractSerde", None),
        topic="t",
        registry_url="http://127.0.0.1:1",
        retry_after=1,
        poll_interval=0.001,
        spin_below=spin_below,
    )
    publisher._producer = cast("Any", _Reports())
    return publisher


def _next_poll(publisher: KafkaPublisher, in_flight: int, *, woken: bool) -> asyncio.Handle:
    publisher._in_flight = in_flight
    if publisher._tick is not None:
        publisher._tick.cancel()
        publisher._tick = None
    if woken:
        publisher._wake()
    else:
        publisher._polling(asyncio.get_running_loop())
    tick = publisher._tick
    assert tick is not None
    return tick


@pytest.mark.parametrize("woken", [True, False], ids=["first-record", "after-a-poll"])
def test_few_records_in_flight_are_polled_every_turn_many_on_the_timer(woken: bool) -> None:
    asyncio.run(_few_and_many(woken))


async def _few_and_many(woken: bool) -> None:
    publisher = _publisher(spin_below=32)
    few = _next_poll(publisher, 31, woken=woken)
    assert not isinstance(few, asyncio.TimerHandle), "every turn of the loop"
    many = _next_poll(publisher, 32, woken=woken)
    assert isinstance(many, asyncio.TimerHandle)
    assert many.when() - asyncio.get_running_loop().time() <= 0.0011
    many.cancel()


def test_zero_keeps_the_timer_and_nothing_in_flight_waits_longer() -> None:
    asyncio.run(_zero())


async def _zero() -> None:
    publisher = _publisher(spin_below=0)
    assert isinstance(_next_poll(publisher, 1, woken=False), asyncio.TimerHandle)
    idle = _next_poll(publisher, 0, woken=False)
    assert isinstance(idle, asyncio.TimerHandle)
    assert idle.when() - asyncio.get_running_loop().time() > 0.05  # errors and statistics
    idle.cancel()
