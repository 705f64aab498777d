"""The registry topic on a real Kafka: publishing boxes, removing them, reading them all.

Publishing first checks that the topic exists and is compacted. The broker would
otherwise create a missing topic on the first write with its default policy (delete),
and the registry would silently lose every box a week later; topics are made on purpose
by ``iotpipe topics ensure``. Kafka errors are wrapped here, at the boundary.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from iotpipe.devices.boxes import Box
from iotpipe.devices.reader import RegistryReader
from iotpipe.devices.states import DeviceState, StateRecord
from iotpipe.devices.topic import RegistryRecord, encode_box, encode_removal, encode_state
from iotpipe.errors import ConfigError, KafkaAdminError, KafkaUnavailable
from iotpipe.logs import RepeatsDropped

__all__ = [
    "connect_consumer",
    "publish_boxes",
    "publish_state",
    "read_all",
    "read_states",
    "remove_box",
    "require_registry_topic",
]

# librdkafka reports every failed connection attempt; readers log what they wait for.
_rdkafka_log = logging.getLogger("iotpipe.devices.rdkafka")
_rdkafka_log.addFilter(RepeatsDropped(30.0))  # a broker down is reported on each reconnect
_rdkafka_log.addHandler(logging.NullHandler())
_HINT = "(--kafka-bootstrap-servers or IOTPIPE_KAFKA_BOOTSTRAP_SERVERS)"


def connect_consumer(bootstrap_servers: str) -> Any:
    """A consumer for assigning partitions by hand: its group id is never joined or
    committed to (unique anyway, so no broker-side state is shared by accident)."""
    return Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"iotpipe-devices-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "allow.auto.create.topics": False,
            "fetch.wait.max.ms": 100,  # a new box shows within about a second
            "logger": _rdkafka_log,
        }
    )


def require_registry_topic(bootstrap_servers: str, topic: str, *, timeout: float = 15.0) -> None:
    """Refuse unless ``topic`` exists with cleanup.policy=compact."""
    from iotpipe.kafka_admin import KafkaTopicAdmin  # noqa: PLC0415

    state = KafkaTopicAdmin(bootstrap_servers, timeout=timeout).describe([topic]).get(topic)
    if state is None:
        raise ConfigError(
            f"the registry topic {topic} does not exist at {bootstrap_servers}; "
            "`iotpipe topics ensure` creates it (compacted)"
        )
    policy = state.configs.get("cleanup.policy", "")
    if "compact" not in policy.split(","):
        raise ConfigError(
            f"the registry topic {topic} has cleanup.policy={policy or 'unset'}, not compact: "
            "boxes would be deleted with age; `iotpipe topics ensure` sets it"
        )


def publish_boxes(
    bootstrap_servers: str, boxes: Sequence[Box], *, topic: str, timeout: float = 15.0
) -> None:
    """Write one record per box and wait until Kafka has every one (acks=all)."""
    _publish(bootstrap_servers, [encode_box(b) for b in boxes], topic=topic, timeout=timeout)


def remove_box(bootstrap_servers: str, box_id: str, *, topic: str, timeout: float = 15.0) -> None:
    """Write the tombstone that removes ``box_id`` and wait until Kafka has it."""
    _publish(bootstrap_servers, [encode_removal(box_id)], topic=topic, timeout=timeout)


def publish_state(
    bootstrap_servers: str,
    device_id: str,
    state: DeviceState,
    reason: str = "",
    *,
    topic: str,
    timeout: float = 15.0,
) -> None:
    """Record ``device_id``'s state and wait until Kafka has it (acks=all)."""
    record = encode_state(device_id, state, reason)
    _publish(bootstrap_servers, [record], topic=topic, timeout=timeout)


def _publish(
    bootstrap_servers: str,
    records: Sequence[tuple[bytes, bytes | None]],
    *,
    topic: str,
    timeout: float,
) -> None:
    require_registry_topic(bootstrap_servers, topic, timeout=timeout)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "acks": "all",
            "enable.idempotence": True,
            "message.timeout.ms": int(timeout * 1000),
            "logger": _rdkafka_log,
        }
    )
    failures: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            key = message.key()
            failures.append(f"{key.decode() if key else '?'}: {error.str()}")

    try:
        for key, value in records:
            producer.produce(topic, key=key, value=value, on_delivery=delivered)
            producer.poll(0)
        left = producer.flush(timeout + 5)
    except (KafkaException, BufferError) as exc:
        raise KafkaAdminError(f"cannot write to {topic}: {exc}") from exc
    if left:
        raise KafkaUnavailable(
            f"Kafka at {bootstrap_servers} did not acknowledge {left} record(s) of {topic} "
            f"within {timeout:g} s {_HINT}"
        )
    if failures:
        raise KafkaAdminError(f"Kafka refused records of {topic}: {'; '.join(failures)}")


def read_all(bootstrap_servers: str, topic: str, *, timeout: float = 15.0) -> list[Box]:
    """Every box in the registry now (the topic read to its end), sorted by id."""
    boxes, _states = _read(bootstrap_servers, topic, timeout)
    return sorted(boxes.values(), key=lambda b: b.id)


def read_states(bootstrap_servers: str, topic: str, *, timeout: float = 15.0) -> list[StateRecord]:
    """Every device state recorded in the registry now, sorted by device id."""
    _boxes, states = _read(bootstrap_servers, topic, timeout)
    return sorted(states.values(), key=lambda s: s.device_id)


def _read(
    bootstrap_servers: str, topic: str, timeout: float
) -> tuple[dict[str, Box], dict[str, StateRecord]]:
    boxes: dict[str, Box] = {}
    states: dict[str, StateRecord] = {}

    def apply(record: RegistryRecord) -> None:
        if record.box is None:
            boxes.pop(record.box_id, None)
        else:
            boxes[record.box_id] = record.box

    def apply_state(record: StateRecord) -> None:
        states[record.device_id] = record

    consumer = connect_consumer(bootstrap_servers)
    reader = RegistryReader(
        consumer,
        topic,
        apply,
        on_state=apply_state,
        metadata_timeout=min(timeout, 5.0),
        warn_missing=False,  # a missing topic is an error here, said once below
    )
    deadline = time.monotonic() + timeout
    try:
        while not reader.caught_up.is_set():
            if time.monotonic() > deadline:
                raise KafkaUnavailable(
                    f"could not read {topic} to its end from Kafka at {bootstrap_servers} "
                    f"within {timeout:g} s {_HINT}"
                )
            reader.step(0.2)
    finally:
        consumer.close()
    if reader.topic_exists is False:
        raise ConfigError(
            f"the registry topic {topic} does not exist at {bootstrap_servers}; "
            "`iotpipe topics ensure` creates it (compacted)"
        )
    return boxes, states
