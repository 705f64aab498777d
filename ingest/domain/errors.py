"""ingest's errors, as the domain sees them; ``ingest.errors`` maps them to HTTP."""

from __future__ import annotations

from collections.abc import Sequence

from iotpipe.errors import IotpipeError

__all__ = [
    "Backpressure",
    "BodyTimeout",
    "BodyTooLarge",
    "Forbidden",
    "IngestError",
    "InvalidRecords",
    "MalformedJson",
    "NotFound",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
]


class IngestError(IotpipeError):
    """Root of ingest's request errors; ``title`` is a short, stable summary."""

    title = "request failed"

    def __init__(
        self, detail: str, *, results: Sequence[object] = (), single: bool = False
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.results = list(results)  # per-record results, when the request had records
        self.single = single  # one-record request: report its errors, not a results list


class MalformedJson(IngestError):
    title = "malformed JSON"


class UnsupportedMediaType(IngestError):
    title = "unsupported media type"


class BodyTooLarge(IngestError):
    title = "request too large"


class BodyTimeout(IngestError):
    """The body did not arrive in time (a client trickling it); the connection closes."""

    title = "request body too slow"


class InvalidRecords(IngestError):
    title = "records do not match the contract"


class Unauthenticated(IngestError):
    title = "missing or invalid API key"


class Forbidden(IngestError):
    title = "not allowed for this API key"


class NotFound(IngestError):
    title = "not found"


class Unavailable(IngestError):
    """Kafka or the registry cannot be reached: retry later (same event ids)."""

    title = "temporarily unavailable"

    def __init__(
        self,
        detail: str,
        *,
        retry_after: int,
        results: Sequence[object] = (),
        single: bool = False,
    ) -> None:
        super().__init__(detail, results=results, single=single)
        self.retry_after = retry_after


class Backpressure(Unavailable):
    """The producer queue is full: slow down and retry."""

    title = "too many records in flight"
