"""The OpenAPI document says which operations take no key (``security: []``): each of
them answers a request that carries none without 401 or 403, and each operation that
needs a key refuses such a request with 401."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings

PARAMS = {
    "name": "SensorReading",
    "version": "1",
    "boxId": "57000b8745fd40c8196ad04c",  # the openSenseMap GET routes
    "sensorId": "57000b8745fd40c8196ad04e",
}


def test_operations_documented_as_public_answer_without_a_key(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys.json")
    keys.create("sensebox-5f2b6c9e")  # a key exists: auth is on, just not sent
    app = create_app(settings=IngestSettings(), publisher=MemoryPublisher(), keys=keys)
    with TestClient(app) as client:
        doc = client.get("/openapi.json").json()
        public = [
            (method, path)
            for path, operations in doc["paths"].items()
            for method, operation in operations.items()
            if operation["security"] == []
        ]
        assert ("get", "/healthz") in public
        for method, path in public:
            assert method == "get", f"{method} {path}: a public operation that writes"
            status = client.get(path.format(**PARAMS)).status_code
            assert status not in {401, 403}, f"{path} documented public, answered {status}"
        keyed = [
            (method, path)
            for path, operations in doc["paths"].items()
            for method, operation in operations.items()
            if operation["security"] and {} not in operation["security"]  # {}: key optional
        ]
        assert ("post", "/v1/readings") in keyed
        for method, path in keyed:  # and those that need one refuse a request without it
            response = client.request(method, path.format(job_id="j", device_id="dev-1"), json={})
            assert response.status_code == 401, f"{method} {path}"
