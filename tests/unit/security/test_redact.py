"""The log redaction helper and its filter: what it removes, and that it keeps the rest."""

from __future__ import annotations

import io
import logging
import secrets

from iotpipe.redact import RedactingFilter, redact, redact_logs

KEY = f"iotp_{'a1b2c3d4e5f6'}_{secrets.token_urlsafe(32)}"
PASSWORD = "S3cr3t-canary"  # noqa: S105 - a canary


def test_keys_uri_passwords_credential_headers_and_frames_are_redacted() -> None:
    samples = {
        f"key {KEY} refused": "key iotp_a1b2c3d4e5f6_*** refused",
        f"mongodb://iotpipe_sink:{PASSWORD}@db:27017/iotpipe?authSource=iotpipe":
            "mongodb://iotpipe_sink:***@db:27017/iotpipe?authSource=iotpipe",
        f"< Authorization: Bearer {KEY}": "< Authorization: ***",
        f"< x-osem-device-api-key: {PASSWORD}": "< x-osem-device-api-key: ***",
        f"< TEXT '{{\"value\": \"{PASSWORD}\"}}' [24 bytes]": "< TEXT [payload not logged]",
        f"> TEXT '{PASSWORD}' [13 bytes]": "> TEXT [payload not logged]",
    }  # fmt: skip
    for text, wanted in samples.items():
        assert redact(text) == wanted
    plain = "POST /v1/readings HTTP/1.1 202; http://registry:8080/apis/ccompat/v7"
    assert redact(plain) == plain


def test_the_filter_cleans_records_on_every_handler(monkeypatch: object) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact_logs()
        redact_logs()  # once per handler
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        log = logging.getLogger("iotpipe.test.redact")
        log.setLevel(logging.INFO)
        log.info("uri %s key %s", f"mongodb://u:{PASSWORD}@h/", KEY)
        log.info("nothing secret here: %d", 42)
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert PASSWORD not in text and KEY not in text
    assert "mongodb://u:***@h/" in text and "nothing secret here: 42" in text
