"""The one place that knows what a secret looks like in text, and a logging filter that
uses it on every handler: API keys keep only their id, URI passwords and credential
headers become ``***``, and WebSocket frames (uvicorn's websockets at debug level log
each frame and every handshake header) are not logged at all: their payload is the
client's data and may hold anything.
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactingFilter", "redact", "redact_logs"]

_KEY = re.compile(r"\biotp_([0-9a-f]{12})_[A-Za-z0-9_-]{20,}")
_URI_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)[^@\s/]+@")
_HEADER = re.compile(
    r"(?P<head>^[<>] (?:authorization|x-api-key|x-osem-device-api-key|cookie|set-cookie): ).*$",
    re.IGNORECASE | re.MULTILINE,
)
_FRAME = re.compile(r"(?P<head>^[<>] (?:TEXT|BINARY|CONT)\b).*$", re.MULTILINE)


def redact(text: str) -> str:
    # Fast path (every access log line passes here): each pattern needs one of these.
    if "iotp_" not in text and "://" not in text and "> " not in text and "< " not in text:
        return text
    text = _KEY.sub(r"iotp_\1_***", text)
    text = _URI_PASSWORD.sub(r"\g<head>***@", text)
    text = _HEADER.sub(r"\g<head>***", text)
    return _FRAME.sub(r"\g<head> [payload not logged]", text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (arguments merged in) when it holds a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the handler
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def redact_logs(*names: str) -> None:
    """Add the filter to every handler of the root logger and of ``names`` (once)."""
    for name in ("", *names):
        for handler in logging.getLogger(name or None).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
