"""Old consumers keep decoding: integrators' consumers pinned to the old schema read the
whole topic after a rollout, records of both writer versions.

They are the cross-language consumers of ``tests/interop`` (Node.js: kafkajs and
@kafkajs/confluent-schema-registry; Go: franz-go and hamba/avro), each fetching a
record's writer schema by the id in its frame and resolving it to the reader schema
passed as a flag: here the old one, which lacks the new field. :mod:`iotpipe.interop`
installs and builds them, into the cache the interop tests use, so a machine that ran
those builds nothing. Outside a checkout, or without Node.js 20+ and npm or Go, a
consumer is skipped, saying why.

What a consumer prints (hundreds of MB for a full run) is counted as it is read, never
written whole: a small summary of it is kept in the scenario's folder.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from iotpipe.interop import Program, go_consumer, node_program

__all__ = ["CONSUMERS", "ConsumerRun", "read_with"]

CONSUMERS: dict[str, Callable[[], Program]] = {
    "node": lambda: node_program("consume.mjs"),
    "go": go_consumer,
}


@dataclass(frozen=True)
class ConsumerRun:
    """What one consumer printed: (event_id, writer schema id, value) per reading, and
    whether any printed reading had the new field (a reader pinned to the old schema
    must not)."""

    language: str
    readings: Counter[tuple[str, int, float]]
    with_field: int
    seconds: float


def read_with(
    language: str,
    *,
    kafka: str,
    registry: str,
    topic: str,
    count: int,
    schema: Path,
    field: str,
    summary: Path,
) -> ConsumerRun:
    """``count`` readings of ``topic`` from its start by ``language``'s consumer, reader
    schema ``schema``, counted as printed; a summary of them written to ``summary``.
    :class:`~iotpipe.interop.ToolMissing` if it cannot run here,
    :class:`~iotpipe.interop.CommandFailed` if it fails."""
    consumer = CONSUMERS[language]()
    began = time.monotonic()
    readings: Counter[tuple[str, int, float]] = Counter()
    per_id: Counter[int] = Counter()
    with_field = 0
    first = None
    printed = consumer.consume(
        kafka=kafka,
        registry=registry,
        topic=topic,
        count=count,
        schema=schema,
        group="chaos-old-consumer",
        timeout=180 + count / 1000,
    )
    for line in printed:
        first = first or line
        reading = line["reading"]
        readings[(reading["event_id"], line["schema_id"], reading["value"])] += 1
        per_id[line["schema_id"]] += 1
        with_field += field in reading
    run = ConsumerRun(language, readings, with_field, time.monotonic() - began)
    summary.write_text(
        json.dumps(
            {
                "language": language,
                "command": consumer.command,
                "topic": topic,
                "reader_schema": str(schema),
                "printed": per_id.total(),
                "distinct": len(readings),
                "per_writer_schema_id": {str(i): n for i, n in sorted(per_id.items())},
                f"with_{field}": with_field,
                "seconds": round(run.seconds, 1),
                "first": first,
            },
            indent=2,
        )
        + "\n"
    )
    return run
