"""The HTTP/1.1 parser per connection: httptools for well-formed requests, h11 for senseBox.

senseBox sketches end the request line and header lines with a bare LF (``sprintf
"POST /boxes/%s/data HTTP/1.1\\nAuthorization: ...\\n"``). Measured with uvicorn 0.54:
httptools (llhttp) answers 400 "Expected CRLF after version" and has no leniency flag
for the request line (``lenient_optional_cr_before_lf`` covers header lines only); h11
accepts LF-only lines, the missing space in ``Authorization:<token>`` and the CRLF a
sketch sends after a ``Connection: close`` body. h11 is pure Python and measured 20-45 %
fewer requests per second than httptools on the bare server, so only connections that
need it get it: this protocol buffers the first request's header block (it never reads
beyond it), and hands the connection to h11 if any line of it ends in a bare LF, else
to httptools. The choice depends on that connection's own bytes only; a CRLF request
is parsed exactly as before, strictly.

Slow clients: the first request's headers must arrive within ``timeout_keep_alive``
(uvicorn's, 5 s) of the connection (this protocol's timer). uvicorn cancels its
keep-alive timer at the first byte of the next request, so a kept-alive connection
could trickle that request's headers forever; both parsers here keep the timer until
the headers are complete instead. Bodies have their own deadline (``read_limited``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

__all__ = [
    "PROTOCOL",
    "DeviceTolerantProtocol",
    "HeaderDeadlineH11",
    "HeaderDeadlineHttpTools",
    "bare_lf",
]

PROTOCOL = "ingest.wire:DeviceTolerantProtocol"  # uvicorn's ``http`` option
_MAX_HEAD = 64 * 1024  # beyond this without an end of headers: let httptools refuse it


def bare_lf(head: bytes) -> bool:
    """Does a line of this header block end in LF without CR?"""
    return head.count(b"\n") != head.count(b"\r\n")


def _head_end(buffer: bytes) -> int:
    """Index just past the header block (CRLF CRLF or LF LF, as h11 reads it), or -1."""
    ends = [i + len(m) for m in (b"\r\n\r\n", b"\n\n", b"\n\r\n") if (i := buffer.find(m)) >= 0]
    return min(ends) if ends else -1


class HeaderDeadlineHttpTools(HttpToolsProtocol):
    """httptools; the keep-alive timer runs until the next request's headers are complete."""

    def _unset_keepalive_if_required(self) -> None:
        pass  # not at the first byte of the next request: at the end of its headers

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        super()._unset_keepalive_if_required()


class HeaderDeadlineH11(H11Protocol):
    """h11; the keep-alive timer runs until the next request's headers are complete."""

    def _unset_keepalive_if_required(self) -> None:
        pass  # not at the first byte of the next request: once h11 has its headers

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            super()._unset_keepalive_if_required()


class DeviceTolerantProtocol(asyncio.Protocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.transport: asyncio.Transport | None = None
        self.timeout: asyncio.TimerHandle | None = None
        self.buffer = b""

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses
        self.server_state.connections.add(self)  # type: ignore[arg-type]
        self.timeout = self.loop.call_later(self.config.timeout_keep_alive, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()

    def eof_received(self) -> None:
        pass

    def shutdown(self) -> None:  # uvicorn calls it on every connection when stopping
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = _head_end(self.buffer)
        if end < 0 and len(self.buffer) < _MAX_HEAD:
            return
        lenient = end >= 0 and bare_lf(self.buffer[:end])
        self._switch(HeaderDeadlineH11 if lenient else HeaderDeadlineHttpTools)

    def _forget(self) -> None:
        self.server_state.connections.discard(self)
        if self.timeout is not None:
            self.timeout.cancel()
            self.timeout = None

    def _switch(self, cls: type[H11Protocol] | type[HttpToolsProtocol]) -> None:
        assert self.transport is not None  # noqa: S101 - data comes after connection_made
        self._forget()
        protocol = cls(
            config=self.config,
            server_state=self.server_state,
            app_state=self.app_state,
            _loop=self.loop,
        )
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        protocol.data_received(self.buffer)
