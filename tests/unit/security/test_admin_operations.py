"""Every admin-only operation, found in the OpenAPI document (``x-iotpipe-role: admin``,
derived from the code's admin dependency), refuses device keys, revoked keys and no key
before it looks at the request; every other operation is open to a device key. A new
admin route is covered by these tests the moment it exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.security.harness import Harness, example_request, harness, operations

JOBS = {("get", "/v1/jobs"), ("post", "/v1/jobs"), ("get", "/v1/jobs/{job_id}")}
JOBS |= {("delete", "/v1/jobs/{job_id}")}


@pytest.fixture
def api(tmp_path: Path) -> Any:
    with harness(tmp_path) as h:
        yield h


def _admin_ops(h: Harness) -> list[tuple[str, str, dict[str, Any]]]:
    doc = h.client.get("/openapi.json").json()
    return [op for op in operations(doc) if op[2].get("x-iotpipe-role") == "admin"]


def test_the_document_marks_the_admin_operations_and_their_key_schemes(api: Harness) -> None:
    admin = _admin_ops(api)
    # At least the jobs API; a new admin route adds itself to this list.
    assert {(m, p) for m, p, _ in admin} >= JOBS
    for method, path, operation in admin:
        assert operation["security"] == [{"bearer": []}, {"apiKey": []}], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_device_keys_revoked_keys_and_no_key_are_refused_by_every_admin_operation(
    api: Harness,
) -> None:
    refused: list[str] = []
    for method, path, operation in _admin_ops(api):
        url, body = example_request(path, operation)
        attempts = {
            "device key, the documented example": (api.bearer(api.device), body),
            "device key, X-API-Key": ({"X-API-Key": api.device}, body),
            # JSON the operation would refuse (422): the key is checked first. (A body that
            # is not JSON at all is 422 before any check: FastAPI parses JSON first.)
            "device key, an invalid body": (api.bearer(api.device), b'{"box_id": 1}'),
            "revoked admin key": (api.bearer(api.revoked), body),
            "no key": ({}, body),
        }
        for what, (headers, content) in attempts.items():
            answer = api.client.request(
                method.upper(),
                url,
                headers={**headers, "Content-Type": "application/json"},
                content=content,
            )
            wanted = 403 if what.startswith("device key") else 401
            if answer.status_code != wanted:
                refused.append(f"{method.upper()} {url} with {what}: {answer.status_code}")
            elif wanted == 403:
                assert answer.headers["content-type"] == "application/problem+json"
                assert "admin key" in answer.json()["detail"]
    assert refused == []
    # Nothing happened: no job was started or cancelled, nothing was published.
    assert api.job_count() == 0
    assert api.publisher.published == []


def test_admin_keys_pass_the_check_of_every_admin_operation(api: Harness) -> None:
    for method, path, operation in _admin_ops(api):
        url, body = example_request(path, operation)
        answer = api.client.request(
            method.upper(),
            url,
            headers={**api.bearer(api.admin), "Content-Type": "application/json"},
            content=body,
        )
        assert answer.status_code not in (401, 403), (method, url, answer.text)


def test_no_other_operation_refuses_a_device_key_acting_for_its_own_device(
    api: Harness,
) -> None:
    """An admin check written by hand (not the dependency) would make an operation 403
    without the document saying so: this catches it."""
    doc = api.client.get("/openapi.json").json()
    checked = 0
    for method, path, operation in operations(doc):
        if operation.get("x-iotpipe-role") == "admin":
            continue
        url, body = example_request(path, operation)
        key = api.device
        example = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        sample = example.get("example")
        sample = sample[0] if isinstance(sample, list) and sample else sample
        if isinstance(sample, dict) and isinstance(sample.get("device_id"), str):
            key = api.key_for(sample["device_id"])
        answer = api.client.request(
            method.upper(),
            url,
            headers={**api.bearer(key), "Content-Type": "application/json"},
            content=body,
        )
        assert answer.status_code != 403, (method, url, answer.text)
        checked += 1
    assert checked >= 10  # the publish, schema, health and openSenseMap operations
