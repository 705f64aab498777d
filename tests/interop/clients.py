"""The Node and Go programs of this folder (built once by :mod:`iotpipe.interop`) as the
tests run them: the consumers read with today's schema."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iotpipe.interop import Program
from tests.interop.builds import as_test

__all__ = ["SCHEMA", "consume"]

SCHEMA = Path(__file__).parents[2] / "schemas" / "sensor_reading.avsc"  # the reader schema


def consume(
    consumer: Program, endpoints: Mapping[str, str], topic: str, count: int
) -> list[dict[str, Any]]:
    """``count`` readings of ``topic`` from its start, in a group of their own, one dict
    per line printed; a consumer that fails fails the test with its output."""
    return as_test(
        lambda: list(
            consumer.consume(
                kafka=endpoints["kafka"],
                registry=endpoints["registry"],
                topic=topic,
                count=count,
                schema=SCHEMA,
            )
        )
    )
