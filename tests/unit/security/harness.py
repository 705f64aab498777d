"""The real ingest app over fakes (memory publisher, memory job store, a job source that
is never reachable) with an admin key, device keys and a revoked key in a key file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from ingest.app import create_app
from ingest.auth.keys import KeyStore
from ingest.jobs.runner import JobPorts, JobRunner
from ingest.jobs.source import OsemSource
from ingest.jobs.store import MemoryJobStore
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings

DEVICE = "sensebox-5f2b6c9e"  # the device of the contract's examples
OTHER = "sensebox-0ther0ne"


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("no source in unit tests", request=request)


@dataclass
class Harness:
    client: TestClient
    keys: KeyStore
    publisher: MemoryPublisher
    jobs: MemoryJobStore
    admin: str
    device: str
    revoked: str
    device_keys: dict[str, str] = field(default_factory=dict)

    def bearer(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def key_for(self, device_id: str) -> str:
        """A device key of ``device_id`` (made once)."""
        if device_id not in self.device_keys:
            self.device_keys[device_id] = self.keys.create(device_id)[1]
        return self.device_keys[device_id]

    def job_count(self) -> int:
        runner: JobRunner = self.client.app.state.jobs  # type: ignore[attr-defined]
        assert self.client.portal is not None  # inside the client's lifespan
        return len(self.client.portal.call(runner.list))


@contextmanager
def harness(tmp_path: Path) -> Iterator[Harness]:
    keys = KeyStore(tmp_path / "keys.json")
    admin = keys.create("ops", "admin")[1]
    device = keys.create(DEVICE)[1]
    revoked_entry, revoked = keys.create("ops-old", "admin")
    keys.revoke(revoked_entry.key_id)
    publisher = MemoryPublisher()
    store = MemoryJobStore()
    transport = httpx.MockTransport(_unreachable)
    ports = JobPorts(store=store, source=lambda url: OsemSource(url, transport=transport))
    settings = IngestSettings(max_body_bytes=64 * 1024, max_batch_records=10, jobs_retry_attempts=1)
    app = create_app(settings=settings, publisher=publisher, keys=keys, jobs=ports)
    with TestClient(app) as client:
        yield Harness(client, keys, publisher, store, admin, device, revoked, {DEVICE: device})


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation the OpenAPI document describes."""
    return [
        (method, path, operation)
        for path, items in doc["paths"].items()
        for method, operation in items.items()
        if method in {"get", "put", "post", "patch", "delete", "head", "options"}
    ]


def example_request(path: str, operation: dict[str, Any]) -> tuple[str, bytes | None]:
    """The URL with each path parameter filled from the document's examples (24 zeros
    where none is given) and the request body's example, as the document shows them."""
    url = path
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "path":
            continue
        value: Any = parameter.get("example")
        examples = parameter.get("examples") or parameter.get("schema", {}).get("examples")
        if value is None and isinstance(examples, list) and examples:
            value = examples[0]
        if value is None and isinstance(examples, dict) and examples:
            value = next(iter(examples.values())).get("value")
        url = url.replace(f"{{{parameter['name']}}}", str(value if value is not None else "0" * 24))
    content = operation.get("requestBody", {}).get("content", {})
    example = content.get("application/json", {}).get("example")
    return url, None if example is None else json.dumps(example).encode()
