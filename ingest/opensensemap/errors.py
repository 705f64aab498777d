"""openSenseMap's errors: a status and restify's ``{"code", "message"}`` body.

They derive from ingest's root (``IngestError``) but answer in upstream's shape, not as
problem+json, because the clients are senseBox devices and tools written for upstream.
"""

from __future__ import annotations

from ingest.domain.errors import IngestError

__all__ = ["OsemError"]


class OsemError(IngestError):
    """An openSenseMap route refuses the request: ``status``, ``code``, ``message``."""

    title = "openSenseMap request refused"

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # 429/503: seconds a client should wait

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    @classmethod
    def unprocessable(cls, message: str) -> OsemError:
        return cls(422, "UnprocessableEntity", message)

    @classmethod
    def bad_request(cls, message: str) -> OsemError:
        return cls(400, "BadRequest", message)

    @classmethod
    def invalid_content(cls, message: str) -> OsemError:
        return cls(400, "InvalidContent", message)

    @classmethod
    def not_found(cls, message: str) -> OsemError:
        return cls(404, "NotFound", message)

    @classmethod
    def unauthorized(cls) -> OsemError:
        return cls(401, "Unauthorized", "Box access token not valid!")

    @classmethod
    def unsupported_media_type(cls) -> OsemError:
        return cls(415, "UnsupportedMediaType", "Unsupported content-type.")

    @classmethod
    def unavailable(cls, message: str, retry_after: int, *, backpressure: bool) -> OsemError:
        """Kafka did not take the readings (no such case upstream, which writes MongoDB)."""
        if backpressure:
            return cls(429, "TooManyRequests", message, retry_after=retry_after)
        return cls(503, "ServiceUnavailable", message, retry_after=retry_after)
