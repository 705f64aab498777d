"""A device key publishes for its own device only, by every route (single, batch,
WebSocket; readings and device events); a revoked key stops working on a running app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.unit.ingest.conftest import device_event, reading
from tests.unit.security.harness import DEVICE, OTHER, Harness, harness

ROUTES = {
    "readings": ("/v1/readings", reading),
    "device events": ("/v1/device-events", device_event),
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as h:
        yield h


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
def test_a_device_key_cannot_publish_for_another_device(
    api: Harness, route: str, header: str
) -> None:
    path, make = ROUTES[route]
    value = f"Bearer {api.device}" if header == "Authorization" else api.device
    headers = {header: value}
    single = api.client.post(path, json=make(device_id=OTHER), headers=headers)
    assert single.status_code == 403
    assert single.json()["errors"][0]["code"] == "forbidden_device"
    batch = api.client.post(
        f"{path}/batch", json=[make(device_id=OTHER), make(device_id=OTHER)], headers=headers
    )
    assert batch.status_code == 403
    assert [r["status"] for r in batch.json()["results"]] == ["rejected", "rejected"]
    assert api.publisher.published == []
    # A mixed batch publishes the key's own record only.
    mixed = api.client.post(
        f"{path}/batch", json=[make(device_id=OTHER), make(device_id=DEVICE)], headers=headers
    )
    assert mixed.status_code == 202
    assert [getattr(r, "device_id", None) for r, _ in api.publisher.published] == [DEVICE]
    # The control: the same key publishes for its own device.
    assert api.client.post(path, json=make(), headers=headers).status_code == 202


def test_a_device_key_cannot_publish_for_another_device_over_the_websocket(
    api: Harness,
) -> None:
    with api.client.websocket_connect("/v1/stream", headers=api.bearer(api.device)) as ws:
        ws.send_text(json.dumps(reading(device_id=OTHER)))
        one = ws.receive_json()
        ws.send_text(json.dumps([reading(device_id=OTHER), reading(device_id=OTHER)]))
        many = ws.receive_json()
        assert api.publisher.published == []
        ws.send_text(json.dumps([reading(device_id=OTHER), reading()]))
        mixed = ws.receive_json()
    for frame in (one, many):
        assert (frame["type"], frame["accepted"]) == ("error", 0)
        assert {e["code"] for r in frame["results"] for e in r["errors"]} == {"forbidden_device"}
    assert (mixed["type"], mixed["accepted"], mixed["rejected"]) == ("partial", 1, 1)
    assert [getattr(r, "device_id", None) for r, _ in api.publisher.published] == [DEVICE]


def test_an_admin_key_publishes_for_any_device(api: Harness) -> None:
    answer = api.client.post(
        "/v1/readings", json=reading(device_id=OTHER), headers=api.bearer(api.admin)
    )
    assert answer.status_code == 202


def _ws_close_code(api: Harness, key: str) -> int | None:
    try:
        with api.client.websocket_connect("/v1/stream", headers=api.bearer(key)) as ws:
            ws.send_text(json.dumps(reading()))
            ws.receive_json()
    except WebSocketDisconnect as closed:
        return closed.code
    return None


def test_a_revoked_key_stops_working_on_every_route_of_a_running_app(api: Harness) -> None:
    headers = api.bearer(api.device)
    assert api.client.post("/v1/readings", json=reading(), headers=headers).status_code == 202
    assert _ws_close_code(api, api.device) is None
    published = len(api.publisher.published)
    key_id = api.device.split("_")[1]
    api.keys.revoke(key_id)  # as `iotpipe keys revoke` does, from another process's view
    answers: dict[str, Any] = {
        "single": api.client.post("/v1/readings", json=reading(), headers=headers),
        "batch": api.client.post("/v1/readings/batch", json=[reading()], headers=headers),
        "events": api.client.post("/v1/device-events", json=device_event(), headers=headers),
    }
    for what, answer in answers.items():
        assert answer.status_code == 401, what
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert _ws_close_code(api, api.device) == 1008
    assert len(api.publisher.published) == published


def test_a_revoked_admin_key_is_refused_too(api: Harness) -> None:
    answer = api.client.post("/v1/readings", json=reading(), headers=api.bearer(api.revoked))
    assert answer.status_code == 401
