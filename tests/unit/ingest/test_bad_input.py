"""Hand-written bad input for every way in: POST /v1/readings, /v1/readings/batch, the
WebSocket and openSenseMap's POST /boxes/{id}/data (JSON and CSV).

Each case gets its documented 4xx with a message naming what was expected, never a 5xx,
publishes nothing, and loses nothing accepted before it. The cases that need a real
server (slow clients, chunked bodies on the wire, memory) are in
tests/integration/ingest/test_bad_input.py.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from ingest.api.body import read_json
from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.domain.errors import BodyTimeout
from ingest.errors import install
from ingest.opensensemap.api import _body as osem_body
from ingest.opensensemap.errors import OsemError
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings
from iotpipe.devices.boxes import InMemoryBoxes
from tests.unit.ingest.conftest import DEVICE, reading
from tests.unit.opensensemap import vectors

LIMIT = 256 * 1024  # max_body_bytes here: room for 100k nested arrays (200 kB)
HOME = "57000b8745fd40c8196ad04c"  # a conformance box with useAuth
TEMP = "57000b8745fd40c8196ad052"  # its temperature sensor
JSON = "application/json"
# 64 MiB of '[' in 64 kB: had it been inflated, 413 or memory; it must never be read.
BOMB = gzip.compress(b"[" * (64 << 20), compresslevel=9)


@pytest.fixture
def app_client(tmp_path: Path, publisher: MemoryPublisher) -> Iterator[tuple[TestClient, str]]:
    keys = KeyStore(tmp_path / "keys.json")
    key = keys.create(DEVICE)[1]
    settings = IngestSettings(keys_file=tmp_path / "keys.json", max_body_bytes=LIMIT)
    boxes = InMemoryBoxes(vectors.boxes().values())
    app = create_app(settings=settings, publisher=publisher, keys=keys, boxes=boxes)
    with TestClient(app) as client:
        yield client, key


# --- bodies: each a function of the target so one table covers single and batch ---

Body = Callable[[str], bytes]


def _record_text(value: str = "21.5", extra: str = "", metadata: str = "{}") -> str:
    """A valid reading as text, with ``value`` and ``metadata`` spliced in raw (to write
    what json.dumps cannot: NaN, 1e400, duplicate keys)."""
    text = json.dumps(reading(value=0.0, metadata={}))
    text = text.replace('"value": 0.0', f'"value": {value}')
    text = text.replace('"metadata": {}', f'"metadata": {metadata}')
    return text[:-1] + extra + "}"


def _wrap(target: str, record: str) -> bytes:
    return (f"[{record}]" if target.endswith("/batch") else record).encode()


def _long_string(length: int) -> Body:
    return lambda target: _wrap(target, _record_text(metadata='{"note": "' + "x" * length + '"}'))


class Bad(NamedTuple):
    name: str
    body: Body
    message: str  # in the problem's detail


class Refused(NamedTuple):
    name: str
    headers: dict[str, str]
    body: Body
    status: int
    message: str


class Osem(NamedTuple):
    name: str
    content_type: str | None
    headers: dict[str, str]
    body: bytes
    status: int
    code: str
    message: str


def _values(publisher: MemoryPublisher) -> list[Any]:
    return [record.model_dump()["value"] for record, _ in publisher.published]


BAD_JSON = [
    Bad(*case)
    for case in [
        ("invalid_utf8", lambda t: b"\xff" + _wrap(t, _record_text()), "not valid UTF-8"),
        (
            "latin1_byte_in_a_string",
            lambda t: _wrap(t, _record_text()).replace(b"temp-1", b"temp-\xe9"),
            "not valid UTF-8",
        ),
        ("deep_nesting_100k", lambda t: b"[" * 100_000 + b"]" * 100_000, "depth limit exceeded"),
        ("float_1e400", lambda t: _wrap(t, _record_text("1e400")), "infinity"),
        ("integer_10_pow_1000", lambda t: _wrap(t, _record_text("1" + "0" * 1000)), "infinity"),
        ("nan", lambda t: _wrap(t, _record_text("NaN")), "expected a JSON value"),
        ("infinity", lambda t: _wrap(t, _record_text("Infinity")), "expected a JSON value"),
        ("minus_infinity", lambda t: _wrap(t, _record_text("-Infinity")), "not valid JSON"),
        (
            "duplicate_key",
            lambda t: _wrap(t, _record_text("1", extra=', "value": 2')),
            "the key 'value' appears twice",
        ),
        (
            "duplicate_nested_key",
            lambda t: _wrap(t, _record_text(metadata='{"a": "1", "a" : "2"}')),
            "the key 'a' appears twice",
        ),
        ("empty", lambda t: b"", "the body is empty; expected JSON"),
        ("whitespace_only", lambda t: b"  \n", "not valid JSON"),
        ("truncated", lambda t: _wrap(t, _record_text())[:-5], "not valid JSON"),
    ]
]


@pytest.mark.parametrize("target", ["/v1/readings", "/v1/readings/batch"])
@pytest.mark.parametrize("case", BAD_JSON, ids=[c.name for c in BAD_JSON])
def test_malformed_json_is_400_naming_the_fault(
    app_client: tuple[TestClient, str], publisher: MemoryPublisher, target: str, case: Bad
) -> None:
    client, key = app_client
    headers = {"Authorization": f"Bearer {key}", "Content-Type": JSON}
    response = client.post(target, content=case.body(target), headers=headers)

    assert response.status_code == 400, (case.name, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "malformed JSON"
    assert case.message in problem["detail"], problem
    assert publisher.published == []


ENVELOPE = [
    Refused(*case)
    for case in [
        (
            "no_content_type",
            {},
            lambda t: _wrap(t, _record_text()),
            415,
            "expected Content-Type application/json, got none",
        ),
        (
            "text_plain",
            {"Content-Type": "text/plain"},
            lambda t: _wrap(t, _record_text()),
            415,
            "got text/plain",
        ),
        (
            "form",
            {"Content-Type": "application/x-www-form-urlencoded"},
            lambda t: b"value=1",
            415,
            "expected Content-Type application/json",
        ),
        (
            "csv",
            {"Content-Type": "text/csv"},
            lambda t: b"temp-1,21.5\n",
            415,
            "expected Content-Type application/json",
        ),
        (
            "gzip",
            {"Content-Type": JSON, "Content-Encoding": "gzip"},
            lambda t: gzip.compress(_wrap(t, _record_text())),
            415,
            "Content-Encoding gzip is not accepted",
        ),
        (
            "gzip_bomb",
            {"Content-Type": JSON, "Content-Encoding": "gzip"},
            lambda t: BOMB,
            415,
            "Content-Encoding gzip is not accepted",
        ),
        (
            "deflate",
            {"Content-Type": JSON, "Content-Encoding": "deflate"},
            lambda t: b"x\x9c",
            415,
            "Content-Encoding deflate",
        ),
        (
            "over_the_limit_by_one",
            {"Content-Type": JSON},
            lambda t: b" " * (LIMIT + 1),
            413,
            f"exceeds the limit of {LIMIT} bytes",
        ),
        (
            "long_string_beyond_the_limit",
            {"Content-Type": JSON},
            _long_string(LIMIT),
            413,
            f"exceeds the limit of {LIMIT} bytes",
        ),
    ]
]


@pytest.mark.parametrize("target", ["/v1/readings", "/v1/readings/batch"])
@pytest.mark.parametrize("case", ENVELOPE, ids=[c.name for c in ENVELOPE])
def test_wrong_envelope_is_refused_before_parsing(
    app_client: tuple[TestClient, str], publisher: MemoryPublisher, target: str, case: Refused
) -> None:
    client, key = app_client
    headers = {"Authorization": f"Bearer {key}", **case.headers}
    response = client.post(target, content=case.body(target), headers=headers)

    assert response.status_code == case.status, (case.name, response.text)
    assert case.message in response.json()["detail"]
    assert publisher.published == []


def test_a_chunked_body_without_length_stops_at_the_limit(
    app_client: tuple[TestClient, str], publisher: MemoryPublisher
) -> None:
    client, key = app_client
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 64 x 64 kB: 16 times the limit
            sent += 1
            yield b" " * 65536

    response = client.post(
        "/v1/readings",
        content=chunks(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": JSON},
    )

    assert response.status_code == 413
    assert response.json()["detail"] == f"body exceeds the limit of {LIMIT} bytes"
    assert response.headers["connection"] == "close"  # the rest is not read
    assert publisher.published == []


def test_a_long_string_just_under_the_limit_is_read_whole(
    app_client: tuple[TestClient, str], publisher: MemoryPublisher
) -> None:
    """Just under the body limit the body is read and parsed whole; the contract puts no
    length on metadata values, so the reading is accepted with its value intact."""
    client, key = app_client
    body = _long_string(LIMIT - 1024)("/v1/readings")
    assert LIMIT - 1024 < len(body) <= LIMIT

    response = client.post(
        "/v1/readings",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": JSON},
    )

    assert response.status_code == 202, response.text
    [(record, _)] = publisher.published
    assert record.model_dump()["metadata"]["note"] == "x" * (LIMIT - 1024)


def test_bad_input_loses_nothing_accepted(
    app_client: tuple[TestClient, str], publisher: MemoryPublisher
) -> None:
    client, key = app_client
    auth = {"Authorization": f"Bearer {key}", "Content-Type": JSON}
    first = client.post("/v1/readings", content=_record_text("1.5").encode(), headers=auth)
    assert first.status_code == 202
    for case in BAD_JSON:
        assert (
            client.post("/v1/readings", content=case.body("/v1/readings"), headers=auth).status_code
            == 400
        )
    last = client.post("/v1/readings", content=_record_text("2.5").encode(), headers=auth)
    assert last.status_code == 202

    assert _values(publisher) == [1.5, 2.5]


# --- the WebSocket: a bad frame gets an error frame, the socket stays usable ---

FRAMES: list[tuple[str, str, str, str]] = [
    ("deep_nesting", "[" * 100_000 + "]" * 100_000, "malformed_json", "depth limit exceeded"),
    ("float_1e400", _record_text("1e400"), "malformed_json", "infinity"),
    ("integer_10_pow_1000", _record_text("1" + "0" * 1000), "malformed_json", "infinity"),
    ("nan", _record_text("NaN"), "malformed_json", "not valid JSON"),
    ("infinity", _record_text("Infinity"), "malformed_json", "not valid JSON"),
    ("minus_infinity", _record_text("-Infinity"), "malformed_json", "not valid JSON"),
    (
        "duplicate_key",
        _record_text("1", extra=', "value": 2'),
        "malformed_json",
        "the key 'value' appears twice",
    ),
    ("empty", "", "malformed_json", "the body is empty"),
    ("empty_array", "[]", "empty_frame", "no reading"),
    (
        "long_string_beyond_the_limit",
        '"' + "x" * LIMIT + '"',
        "frame_too_large",
        f"exceeds {LIMIT} bytes",
    ),
]


def test_the_websocket_answers_every_bad_frame_and_stays_open(
    app_client: tuple[TestClient, str], publisher: MemoryPublisher
) -> None:
    client, key = app_client
    with client.websocket_connect("/v1/stream", headers={"Authorization": f"Bearer {key}"}) as ws:
        ws.send_text(_record_text("1.5"))
        assert ws.receive_json()["type"] == "ack"
        for number, (case, frame, code, message) in enumerate(FRAMES, start=2):
            ws.send_text(frame)
            reply = ws.receive_json()
            assert (reply["frame"], reply["type"]) == (number, "error"), case
            assert reply["error"]["code"] == code, (case, reply)
            assert message in reply["error"]["message"], (case, reply)
        # Invalid UTF-8 cannot be a text frame (the protocol forbids it): as bytes it is
        # refused as a binary frame.
        ws.send_bytes(b"\xff" + _record_text().encode())
        assert ws.receive_json()["error"]["code"] == "text_frame_expected"
        ws.send_text(_record_text("2.5"))
        assert ws.receive_json()["type"] == "ack"

    assert _values(publisher) == [1.5, 2.5]


# --- openSenseMap's bulk upload: upstream's codes and {"code","message"} bodies ---

OSEM_JSON = '[{"sensor": "' + TEMP + '", "value": %s}]'
OSEM = [
    Osem(*case)
    for case in [
        (
            "json_invalid_utf8",
            JSON,
            {},
            b"\xff" + (OSEM_JSON % "1").encode(),
            400,
            "InvalidContent",
            "Invalid JSON",
        ),
        (
            "json_deep_nesting",
            JSON,
            {},
            b"[" * 100_000 + b"]" * 100_000,
            400,
            "InvalidContent",
            "nested too deeply",
        ),
        (
            "json_1e400",
            JSON,
            {},
            (OSEM_JSON % "1e400").encode(),
            422,
            "UnprocessableEntity",
            "Invalid value",
        ),
        (
            "json_10_pow_1000",
            JSON,
            {},
            (OSEM_JSON % ("1" + "0" * 1000)).encode(),
            422,
            "UnprocessableEntity",
            "Invalid value",
        ),
        (
            "json_nan",
            JSON,
            {},
            (OSEM_JSON % "NaN").encode(),
            400,
            "InvalidContent",
            "Unexpected token N",
        ),
        (
            "json_infinity",
            JSON,
            {},
            (OSEM_JSON % "Infinity").encode(),
            400,
            "InvalidContent",
            "Unexpected token I",
        ),
        (
            "json_minus_infinity",
            JSON,
            {},
            (OSEM_JSON % "-Infinity").encode(),
            400,
            "InvalidContent",
            "Invalid JSON",
        ),
        (
            "json_empty",
            JSON,
            {},
            b"",
            422,
            "UnprocessableEntity",
            "Cannot decode empty message (json decoder)",
        ),
        (
            "json_beyond_the_limit",
            JSON,
            {},
            (OSEM_JSON % ('"' + "x" * LIMIT + '"')).encode(),
            413,
            "PayloadTooLarge",
            f"Body exceeds {LIMIT} bytes.",
        ),
        (
            "json_long_string_under_the_limit",
            JSON,
            {},
            (OSEM_JSON % ('"' + "x" * (LIMIT - 1024) + '"')).encode(),
            422,
            "UnprocessableEntity",
            "Invalid value",
        ),
        (
            "json_gzip",
            JSON,
            {"Content-Encoding": "gzip"},
            gzip.compress((OSEM_JSON % "1").encode()),
            415,
            "UnsupportedMediaType",
            "Content-Encoding gzip is not accepted",
        ),
        (
            "json_gzip_bomb",
            JSON,
            {"Content-Encoding": "gzip"},
            BOMB,
            415,
            "UnsupportedMediaType",
            "Content-Encoding gzip",
        ),
        (
            "no_content_type",
            None,
            {},
            (OSEM_JSON % "1").encode(),
            415,
            "UnsupportedMediaType",
            "Unsupported content-type.",
        ),
        (
            "text_html",
            "text/html",
            {},
            (OSEM_JSON % "1").encode(),
            415,
            "UnsupportedMediaType",
            "Unsupported content-type.",
        ),
        (
            "csv_invalid_utf8",
            "text/csv",
            {},
            b"\xff\xfe" + f"{TEMP},21.5\n".encode(),
            422,
            "UnprocessableEntity",
            "Invalid sensor id",
        ),
        (
            "csv_1e400",
            "text/csv",
            {},
            f"{TEMP},1e400\n".encode(),
            422,
            "UnprocessableEntity",
            "Invalid value",
        ),
        (
            "csv_10_pow_1000",
            "text/csv",
            {},
            f"{TEMP},1{'0' * 1000}\n".encode(),
            422,
            "UnprocessableEntity",
            "Invalid value",
        ),
        (
            "csv_nan",
            "text/csv",
            {},
            f"{TEMP},NaN\n".encode(),
            422,
            "UnprocessableEntity",
            "Invalid value",
        ),
        (
            "csv_infinity",
            "text/csv",
            {},
            f"{TEMP},Infinity\n".encode(),
            422,
            "UnprocessableEntity",
            "Invalid value",
        ),
        (
            "csv_minus_infinity",
            "text/csv",
            {},
            f"{TEMP},-Infinity\n".encode(),
            422,
            "UnprocessableEntity",
            "Invalid value",
        ),
        (
            "csv_empty",
            "text/csv",
            {},
            b"",
            422,
            "UnprocessableEntity",
            "Cannot decode empty message (csv decoder)",
        ),
        (
            "csv_beyond_the_limit",
            "text/csv",
            {},
            f"{TEMP},{'1' * LIMIT}\n".encode(),
            413,
            "PayloadTooLarge",
            f"Body exceeds {LIMIT} bytes.",
        ),
        (
            "csv_gzip",
            "text/csv",
            {"Content-Encoding": "gzip"},
            gzip.compress(f"{TEMP},21.5\n".encode()),
            415,
            "UnsupportedMediaType",
            "Content-Encoding gzip is not accepted",
        ),
    ]
]


@pytest.mark.parametrize("case", OSEM, ids=[c.name for c in OSEM])
def test_opensensemap_bulk_upload_refuses_bad_input_as_upstream(
    app_client: tuple[TestClient, str], publisher: MemoryPublisher, case: Osem
) -> None:
    client, _ = app_client
    sent = {"Authorization": vectors.ACCESS_TOKEN, **case.headers}
    if case.content_type is not None:
        sent["Content-Type"] = case.content_type

    response = client.post(f"/boxes/{HOME}/data", content=case.body, headers=sent)

    assert response.status_code == case.status, (case.name, response.text[:300])
    answer: dict[str, Any] = response.json()
    assert answer["code"] == case.code
    assert case.message in answer["message"]
    assert publisher.published == []


def test_opensensemap_duplicate_keys_keep_the_last_as_upstream(
    app_client: tuple[TestClient, str], publisher: MemoryPublisher
) -> None:
    """openSenseMap parses with JSON.parse, which keeps the last of equal keys; a drop-in
    must read a senseBox's body as upstream did, so here the last value wins (documented)."""
    client, _ = app_client
    body = '[{"sensor": "' + TEMP + '", "value": 1, "value": 2}]'

    response = client.post(
        f"/boxes/{HOME}/data",
        content=body,
        headers={"Authorization": vectors.ACCESS_TOKEN, "Content-Type": JSON},
    )

    assert response.status_code == 201
    assert _values(publisher) == [2.0]


# --- a body that never finishes: the deadline (the wire-level case is an integration test)


def _stalled_request(headers: dict[str, str]) -> Request:
    """A request whose first body chunk arrives, and then nothing, ever."""
    chunks = [{"type": "http.request", "body": b"[", "more_body": True}]

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop()
        await asyncio.Event().wait()  # the client stalls
        raise AssertionError("unreachable")

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "headers": raw_headers}, receive)


def _answer(error: Exception) -> Any:
    """What ingest's error mapping (ingest.errors) answers for ``error``."""
    app = FastAPI()
    install(app)

    @app.get("/")
    async def fail() -> None:
        raise error

    with TestClient(app) as client:
        return client.get("/")


def test_a_stalled_body_is_408_with_the_connection_closed() -> None:
    request = _stalled_request({"Content-Type": JSON})

    with pytest.raises(BodyTimeout) as caught:
        asyncio.run(read_json(request, LIMIT, 0.2))

    assert "did not arrive within 0.2 s (1 bytes received)" in caught.value.detail
    response = _answer(caught.value)
    assert response.status_code == 408
    assert response.headers["connection"] == "close"
    assert response.json()["title"] == "request body too slow"


def test_a_stalled_opensensemap_body_is_408_in_upstream_form() -> None:
    settings = IngestSettings(body_timeout_seconds=0.2)

    with pytest.raises(OsemError) as caught:
        asyncio.run(osem_body(_stalled_request({"Content-Type": "text/csv"}), settings))

    assert (caught.value.status, caught.value.code) == (408, "RequestTimeout")
    assert caught.value.message == "Body not received within 0.2 seconds."
    response = _answer(caught.value)
    assert response.status_code == 408
    assert response.headers["connection"] == "close"
    assert response.json() == {"code": "RequestTimeout", "message": caught.value.message}
