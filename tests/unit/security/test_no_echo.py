"""Refusals never repeat what a field carried: a secret sent by mistake in a body (a key
pasted into device_id, a token in value) does not come back in the error, where clients
and proxies log it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.ingest.conftest import reading
from tests.unit.security.harness import DEVICE, Harness, harness

CANARY = f"iotp_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as h:
        yield h


@pytest.mark.parametrize("field", ["device_id", "value", "event_time", "event_id"])
def test_no_refusal_echoes_the_value_of_a_field(api: Harness, field: str) -> None:
    body = reading(**{"device_id": DEVICE, field: CANARY})
    headers = api.bearer(api.device)
    single = api.client.post("/v1/readings", json=body, headers=headers)
    batch = api.client.post("/v1/readings/batch", json=[body, body], headers=headers)
    with api.client.websocket_connect("/v1/stream", headers=headers) as ws:
        ws.send_text(json.dumps(body))
        frame = ws.receive_text()
    assert single.status_code in (403, 422) and batch.status_code in (403, 422)
    for text in (single.text, batch.text, frame):
        assert CANARY not in text
    assert api.publisher.published == []
