"""The dead-letter topic: records the sink cannot decode, kept byte for byte.

A dead letter is the original key, value and headers, plus headers saying why (format
version 1): ``iotpipe-dlq-version``, ``-reason``, ``-error-class``, ``-error-message``,
``-schema-id``, ``-source-topic``, ``-source-partition``, ``-source-offset``, ``-time``,
``-attempts``. ``replay`` re-drives dead letters into the main topic after a fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Message, Producer

from iotpipe.contract.catalog import DLQ_HEADER_PREFIX
from iotpipe.errors import DecodeError

__all__ = ["PREFIX", "DeadLetter", "DeadLetterWriter", "dead_letter_headers", "original_headers"]

PREFIX = DLQ_HEADER_PREFIX
VERSION = "1"
REPLAY_ATTEMPTS = "iotpipe-replay-attempts"


def _schema_id(value: bytes | None) -> str:
    """The schema id of a Confluent-framed value (magic byte 0), for diagnosis only."""
    if value and len(value) >= 5 and value[0] == 0:
        return str(int.from_bytes(value[1:5], "big"))
    return ""


def _header(headers: Sequence[Any], name: str) -> str | None:
    for key, value in headers:
        if key == name and isinstance(value, bytes):
            return value.decode(errors="replace")
    return None


def original_headers(headers: Sequence[Any]) -> list[tuple[str, str | bytes | None]]:
    return [(k, v) for k, v in headers if not k.startswith(PREFIX) and v is not None]


def dead_letter_headers(
    message: Message, error: DecodeError
) -> list[tuple[str, str | bytes | None]]:
    headers = list(message.headers() or [])
    attempts = int(_header(headers, REPLAY_ATTEMPTS) or "0") + 1
    fields: dict[str, str] = {
        "version": VERSION,
        "reason": error.reason,
        "error-class": type(error).__name__,
        "error-message": str(error)[:1000],
        "schema-id": _schema_id(message.value()),
        "source-topic": message.topic() or "",
        "source-partition": str(message.partition()),
        "source-offset": str(message.offset()),
        "time": datetime.now(UTC).isoformat(),
        "attempts": str(attempts),
    }
    return [*original_headers(headers), *((PREFIX + k, v.encode()) for k, v in fields.items())]


@dataclass(frozen=True)
class DeadLetter:
    message: Message
    error: DecodeError


class DeadLetterWriter:
    """Produces dead letters and waits until Kafka has them (before offsets are committed)."""

    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self.topic = topic

    def send(self, letters: Sequence[DeadLetter], timeout: float = 30.0) -> None:
        failures: list[str] = []

        def delivered(error: object, _message: object) -> None:
            if error is not None:
                failures.append(str(error))

        for letter in letters:
            self._producer.produce(
                self.topic,
                key=letter.message.key(),
                value=letter.message.value(),
                headers=dead_letter_headers(letter.message, letter.error),
                on_delivery=delivered,
            )
        remaining = self._producer.flush(timeout)
        if remaining or failures:
            raise ConnectionError(f"dead letters not acknowledged: {failures[:1] or remaining}")
