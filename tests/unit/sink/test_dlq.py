from __future__ import annotations

from iotpipe.contract.catalog import DLQ_HEADER_PREFIX, DLQ_HEADERS
from iotpipe.errors import DecodeError
from sink.dlq import REPLAY_ATTEMPTS, dead_letter_headers, original_headers
from tests.unit.sink.fakes import FakeMessage


def test_dead_letter_headers_are_exactly_the_published_ones() -> None:
    message = FakeMessage(
        "sensor-data",
        2,
        41,
        b"dev-1",
        b"\x00\x00\x00\x00\x07rest",
        [("traceparent", b"00-abc"), (REPLAY_ATTEMPTS, b"2")],
    )
    headers = dead_letter_headers(message, DecodeError("bad", reason="undecodable"))  # type: ignore[arg-type]
    added = {
        k.removeprefix(DLQ_HEADER_PREFIX): v for k, v in headers if k.startswith(DLQ_HEADER_PREFIX)
    }
    assert set(added) == set(DLQ_HEADERS)
    assert added["source-offset"] == b"41"
    assert added["schema-id"] == b"7"
    assert added["attempts"] == b"3"  # a replayed letter that failed again
    assert ("traceparent", b"00-abc") in headers  # the original headers are kept
    assert original_headers(headers) == [("traceparent", b"00-abc"), (REPLAY_ATTEMPTS, b"2")]
