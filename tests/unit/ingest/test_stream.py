"""``WS /v1/stream``: acks per frame, per-record errors, the socket survives bad frames."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ingest.publisher.memory import MemoryPublisher
from tests.unit.ingest.conftest import reading


def test_frames_get_acks_and_the_socket_survives_bad_ones(
    client: TestClient, publisher: MemoryPublisher
) -> None:
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps(reading()))
        first = ws.receive_json()
        assert (first["frame"], first["type"], first["accepted"]) == (1, "ack", 1)
        ws.send_text("{broken")
        assert ws.receive_json()["error"]["code"] == "malformed_json"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_json()["error"]["code"] == "text_frame_expected"
        ws.send_text("[]")
        assert ws.receive_json()["error"]["code"] == "empty_frame"
        ws.send_text(json.dumps([reading() for _ in range(11)]))
        assert ws.receive_json()["error"]["code"] == "too_many_records"
        ws.send_text(json.dumps([reading(), reading(value="hot"), reading()]))
        mixed = ws.receive_json()
        assert (mixed["frame"], mixed["type"], mixed["accepted"], mixed["rejected"]) == (
            6,
            "partial",
            2,
            1,
        )
        assert mixed["results"][1]["errors"][0]["pointer"] == "/value"
        ws.send_text(json.dumps(reading(device_id="other")))
        assert ws.receive_json()["type"] == "error"
    assert len(publisher.published) == 3


def test_stream_needs_a_key(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/v1/stream", headers={"Authorization": ""}) as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 1008
