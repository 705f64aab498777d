"""``/v1/devices/{device_id}/state`` over the real app with an in-memory registry: admin
keys only, what is refused, and a state set, read back and undone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings
from iotpipe.devices.states import DeviceState, InMemoryStates, StateRecord
from iotpipe.errors import KafkaUnavailable

PATH = "/v1/devices/{}/state"


class BrokenStates(InMemoryStates):
    def record(self, device_id: str, state: DeviceState, reason: str) -> StateRecord:
        raise KafkaUnavailable("Kafka at 127.0.0.1:9 did not acknowledge 1 record(s)")


@dataclass
class Api:
    client: TestClient
    states: InMemoryStates
    admin: dict[str, str]
    device: dict[str, str]


def _api(tmp_path: Path, states: InMemoryStates) -> Iterator[Api]:
    keys = KeyStore(tmp_path / "keys.json")
    admin = keys.create("ops", "admin")[1]
    device = keys.create("sensebox-1")[1]
    app = create_app(
        settings=IngestSettings(), publisher=MemoryPublisher(), keys=keys, device_states=states
    )
    with TestClient(app) as client:
        yield Api(
            client,
            states,
            {"Authorization": f"Bearer {admin}"},
            {"Authorization": f"Bearer {device}"},
        )


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from _api(tmp_path, InMemoryStates())


def test_a_device_is_retired_read_back_and_reactivated(api: Api) -> None:
    url = PATH.format("sensebox-1")
    before = api.client.get(url, headers=api.admin)
    assert before.status_code == 200
    assert before.json() == {
        "device_id": "sensebox-1",
        "state": "active",
        "reason": "",
        "changed_at": None,
    }
    body = {"state": "retired", "reason": "replaced by sensebox-77"}
    put = api.client.put(url, json=body, headers=api.admin)
    assert put.status_code == 200, put.text
    assert put.json()["state"] == "retired"
    assert put.json()["changed_at"] is not None
    recorded = api.states.state_of("sensebox-1")
    assert recorded is not None
    assert (recorded.state, recorded.reason) == (DeviceState.RETIRED, "replaced by sensebox-77")
    assert api.client.get(url, headers=api.admin).json() == put.json()
    again = api.client.put(url, json={"state": "active"}, headers=api.admin)
    assert again.json()["state"] == "active"
    assert api.client.get(url, headers=api.admin).json()["state"] == "active"


def test_only_an_admin_key_may(api: Api) -> None:
    url = PATH.format("sensebox-1")
    assert api.client.put(url, json={"state": "paused"}, headers=api.device).status_code == 403
    assert api.client.get(url, headers=api.device).status_code == 403
    assert api.client.put(url, json={"state": "paused"}).status_code == 401
    assert api.states.state_of("sensebox-1") is None


@pytest.mark.parametrize(
    ("device", "body", "where"),
    [
        ("sensebox-1", {"state": "gone"}, "/state"),
        ("sensebox-1", {}, "/state"),
        ("sensebox-1", {"state": "paused", "note": "x"}, "/note"),
        ("sensebox-1", {"state": "paused", "reason": "x" * 501}, "/reason"),
        ("-leading-dash", {"state": "paused"}, "device_id"),
    ],
)
def test_what_is_refused_names_the_field(
    api: Api, device: str, body: dict[str, object], where: str
) -> None:
    response = api.client.put(PATH.format(device), json=body, headers=api.admin)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert where in response.text
    assert api.states.all() == []


def test_a_body_that_cannot_be_read_is_400_and_one_that_is_not_json_422(api: Api) -> None:
    headers = {**api.admin, "Content-Type": "application/json"}
    unreadable = api.client.put(PATH.format("dev-1"), content=b"i\xff", headers=headers)
    assert unreadable.status_code == 400  # as schemathesis found: documented
    assert (
        api.client.put(PATH.format("dev-1"), content=b"{oops", headers=headers).status_code == 422
    )
    assert api.states.all() == []


def test_a_registry_that_cannot_be_written_is_503_with_retry_after(tmp_path: Path) -> None:
    for api in _api(tmp_path, BrokenStates()):
        response = api.client.put(PATH.format("dev-1"), json={"state": "paused"}, headers=api.admin)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert "did not acknowledge" in response.json()["detail"]


def test_the_openapi_document_marks_both_operations_admin(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    operations = doc["paths"]["/v1/devices/{device_id}/state"]
    assert set(operations) == {"get", "put"}
    for operation in operations.values():
        assert operation["x-iotpipe-role"] == "admin"
