"""ingest.wire: which parser a connection gets, from its own first bytes (no network:
a fake transport records what the protocol hands over)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ingest.wire import DeviceTolerantProtocol, bare_lf

SKETCH = b"POST /boxes/57000b8745fd40c8196ad04c/data HTTP/1.1\nAuthorization: t\nHost: h\n"
CLEAN = b"POST /v1/readings HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"


SEEN: list[tuple[str, bytes]] = []


async def app(scope: Any, receive: Any, send: Any) -> None:
    """Records what the parser delivered, answers 204."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    SEEN.append((scope["path"], body))
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class FakeTransport:
    def __init__(self) -> None:
        self.protocol: asyncio.Protocol | None = None
        self.closed = False
        self.written = b""

    def set_protocol(self, protocol: asyncio.Protocol) -> None:
        self.protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 80)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write(self, data: bytes) -> None:
        self.written += data

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def connect(loop: asyncio.AbstractEventLoop, *chunks: bytes) -> FakeTransport:
    config = Config(app=app, lifespan="off", log_level="warning")
    protocol = DeviceTolerantProtocol(config, ServerState(), {}, _loop=loop)
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    for chunk in chunks:
        protocol.data_received(chunk)
    loop.run_until_complete(asyncio.sleep(0.05))  # let the app run on what was parsed
    return transport


def test_a_sketch_request_goes_to_h11_and_reaches_the_app(
    loop: asyncio.AbstractEventLoop,
) -> None:
    SEEN.clear()
    transport = connect(loop, SKETCH, b"Content-Length: 5\n\nid,12\r\n")
    assert isinstance(transport.protocol, H11Protocol)
    assert SEEN == [("/boxes/57000b8745fd40c8196ad04c/data", b"id,12")]
    assert transport.written.startswith(b"HTTP/1.1 204 ")


def test_a_crlf_request_stays_on_httptools(loop: asyncio.AbstractEventLoop) -> None:
    SEEN.clear()
    transport = connect(loop, CLEAN + b"\r\n{}")
    assert isinstance(transport.protocol, HttpToolsProtocol)
    assert SEEN == [("/v1/readings", b"{}")]


def test_nothing_is_decided_before_the_header_block_ends(
    loop: asyncio.AbstractEventLoop,
) -> None:
    transport = connect(loop, CLEAN[:20], CLEAN[20:])
    assert transport.protocol is None
    connect_rest = connect(loop, CLEAN[:20], CLEAN[20:], b"\r\n{}")
    assert isinstance(connect_rest.protocol, HttpToolsProtocol)


def test_an_endless_header_block_is_left_to_httptools_to_refuse(
    loop: asyncio.AbstractEventLoop,
) -> None:
    transport = connect(loop, b"POST / HTTP/1.1\r\nX: " + b"a" * 70_000)
    assert isinstance(transport.protocol, HttpToolsProtocol)
    transport.protocol.connection_lost(None)


@pytest.mark.parametrize(
    ("head", "lenient"),
    [
        (SKETCH + b"\n", True),
        (CLEAN + b"\r\n", False),
        (b"POST / HTTP/1.1\r\nHost: h\n\r\n", True),  # one bare LF is enough
    ],
)
def test_bare_lf(head: bytes, lenient: bool) -> None:
    assert bare_lf(head) is lenient
