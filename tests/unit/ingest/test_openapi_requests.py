"""The request bodies of the publishing operations are described as clients send them:
a body that leaves out ``event_id`` and gives ``event_time`` in epoch milliseconds is
valid by the published schema, and ingest accepts it (the document and the API agree)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings
from iotpipe.paths import REPO_DIR

DEVICE = "sensebox-5f2b6c9e"


def _request_schema(doc: dict[str, Any], path: str) -> dict[str, Any]:
    body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {**body, "components": doc["components"]}


def test_what_ingest_fills_in_is_not_required_of_clients(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys.json")
    key = keys.create(DEVICE)[1]
    app = create_app(settings=IngestSettings(), publisher=MemoryPublisher(), keys=keys)
    example = json.loads(
        (REPO_DIR / "generated/examples/dev.iotpipe.SensorReading.json").read_text()
    )
    sent = {k: v for k, v in example.items() if k not in {"event_id", "ingest_time"}}
    sent |= {"device_id": DEVICE, "event_time": int(time.time() * 1000)}
    with TestClient(app) as client:
        doc = client.get("/openapi.json").json()
        single = _request_schema(doc, "/v1/readings")
        Draft202012Validator(single).validate(sent)  # valid as published...
        answer = client.post("/v1/readings", json=sent, headers={"X-API-Key": key})
        assert answer.status_code == 202, answer.text  # ...and accepted
        batch = _request_schema(doc, "/v1/readings/batch")
        Draft202012Validator(batch).validate([sent])

    request = doc["components"]["schemas"]["SensorReadingRequest"]
    assert "event_id" not in request["required"]
    assert request["properties"]["ingest_time"]["readOnly"] is True
    # The stored form keeps the contract's rules, and is what an example is.
    record = doc["components"]["schemas"]["SensorReading"]
    assert "event_id" in record["required"]
    Draft202012Validator({"$ref": "#/components/schemas/SensorReading", **doc}).validate(example)
