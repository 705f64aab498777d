"""RegistryFollower over an in-memory topic: catch-up, live changes, trouble survived."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import KafkaError

from iotpipe.devices.follower import RegistryFollower
from iotpipe.devices.topic import encode_removal
from tests.unit.devices.registry_fakes import BOX_ID, FakeConsumer, box

TOPIC = "iotpipe.devices"
OTHER_ID = "5a1100000000000000d10000"


def eventually(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


@pytest.fixture
def consumer() -> FakeConsumer:
    return FakeConsumer(TOPIC, partitions=2)


@pytest.fixture
def follow(consumer: FakeConsumer) -> Iterator[Callable[[], RegistryFollower]]:
    made: list[RegistryFollower] = []

    def start() -> RegistryFollower:
        follower = RegistryFollower(consumer, TOPIC, poll_seconds=0.01, refresh_seconds=0.05)
        follower.start()
        made.append(follower)
        return follower

    yield start
    for follower in made:
        follower.close()


def test_catches_up_with_the_latest_record_of_each_box(
    consumer: FakeConsumer, follow: Callable[[], RegistryFollower]
) -> None:
    consumer.put(box(name="first name"), partition=0)
    consumer.put(box(OTHER_ID, name="gone soon"), partition=1)
    consumer.put(box(name="renamed"), partition=0)
    consumer.append(*encode_removal(OTHER_ID), partition=1)
    consumer.put(box("5a1100000000000000d20000", name="third"), partition=1)
    follower = follow()
    assert follower.wait_caught_up(3)
    assert follower.caught_up
    assert [b.name for b in follower.all()] == ["renamed", "third"]
    assert follower.get(OTHER_ID) is None
    found = follower.get(BOX_ID.upper())  # ids compare as hex, whatever the case
    assert found is not None
    assert found.name == "renamed"
    assert follower.count() == 2


def test_is_not_caught_up_before_the_start_watermarks_are_reached(
    consumer: FakeConsumer, follow: Callable[[], RegistryFollower]
) -> None:
    consumer.put(box())
    consumer.hold = True
    follower = follow()
    assert not follower.wait_caught_up(0.2)
    assert follower.get(BOX_ID) is None
    consumer.hold = False
    assert follower.wait_caught_up(3)
    assert follower.get(BOX_ID) is not None


def test_changes_after_start_become_visible(
    consumer: FakeConsumer, follow: Callable[[], RegistryFollower]
) -> None:
    follower = follow()
    assert follower.wait_caught_up(3)  # an empty registry is read at once
    assert bool(follower)  # an empty follower is still a directory, not "no directory"
    consumer.put(box(name="new"))
    assert eventually(lambda: follower.get(BOX_ID) is not None)
    consumer.put(box(name="newer"), partition=1)
    assert eventually(lambda: getattr(follower.get(BOX_ID), "name", None) == "newer")
    consumer.append(*encode_removal(BOX_ID), partition=1)
    assert eventually(lambda: follower.get(BOX_ID) is None)


def test_a_bad_record_is_skipped_and_the_rest_still_applies(
    consumer: FakeConsumer,
    follow: Callable[[], RegistryFollower],
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer.raw(BOX_ID.encode(), b"\x00garbage")
    consumer.raw(OTHER_ID.encode(), {"version": 1, "box": {"_id": OTHER_ID}})
    consumer.put(box("5a1100000000000000d20000"))
    with caplog.at_level(logging.WARNING):
        follower = follow()
        assert follower.wait_caught_up(3)
    assert [b.id for b in follower.all()] == ["5a1100000000000000d20000"]
    assert f"{TOPIC}[0]@0 skipped" in caplog.text
    assert f"{TOPIC}[0]@1 skipped" in caplog.text


def test_a_missing_topic_is_caught_up_empty_and_followed_once_it_exists(
    consumer: FakeConsumer,
    follow: Callable[[], RegistryFollower],
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer.exists = False
    with caplog.at_level(logging.WARNING):
        follower = follow()
        assert follower.wait_caught_up(3)
    assert "does not exist" in caplog.text
    assert follower.all() == []
    consumer.put(box())
    consumer.exists = True
    assert eventually(lambda: follower.get(BOX_ID) is not None)


def test_broker_trouble_delays_but_never_stops_the_follower(
    consumer: FakeConsumer,
    follow: Callable[[], RegistryFollower],
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer.put(box())
    consumer.metadata_failures = 3
    consumer.errors = [KafkaError(KafkaError._TRANSPORT)] * 5
    with caplog.at_level(logging.WARNING):
        follower = follow()
        assert follower.wait_caught_up(5)
    assert follower.get(BOX_ID) is not None
    assert "no answer from Kafka" in caplog.text
    assert caplog.text.count("no answer from Kafka") == 1  # said once, not per retry


def test_close_stops_the_thread_and_closes_the_consumer_once(
    consumer: FakeConsumer, follow: Callable[[], RegistryFollower]
) -> None:
    follower = follow()
    assert follower.wait_caught_up(3)
    follower.close()
    follower.close()
    assert consumer.closed
    consumer.put(box())
    time.sleep(0.1)
    assert follower.get(BOX_ID) is None  # nothing is read after close
