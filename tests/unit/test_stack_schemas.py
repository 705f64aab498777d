"""`stack up` registers the contract (iotpipe.stack.schemas), against a registry in memory
that answers the Confluent-compatible API as Apicurio does."""

from __future__ import annotations

import json
from urllib.parse import unquote

import httpx

from iotpipe.contract.catalog import COMPATIBILITY, Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.stack.schemas import register_contract

URL = "http://registry.test/apis/ccompat/v7"


class FakeRegistry:
    def __init__(self, *, refuse: bool = False) -> None:
        self.subjects: dict[str, list[str]] = {}
        self.levels: dict[str, str] = {}
        self.writes: list[str] = []
        self.refuse = refuse

    def __call__(self, request: httpx.Request) -> httpx.Response:  # noqa: PLR0911 - one per route
        parts = unquote(request.url.path).removeprefix("/apis/ccompat/v7/").split("/")
        body = json.loads(request.content) if request.content else {}
        if parts[0] == "compatibility":  # the check a refusal runs: Apicurio's bare answer
            return httpx.Response(200, json={"is_compatible": False})
        kind, subject = parts[0], parts[1]
        if request.method in {"PUT", "POST"} and parts[-1] != subject:
            self.writes.append(f"{request.method} {'/'.join(parts)}")
        if kind == "config" and request.method == "PUT":
            self.levels[subject] = body["compatibility"]
            return httpx.Response(200, json=body)
        if kind == "config":
            level = self.levels.get(subject)
            found = {"compatibilityLevel": level}
            return httpx.Response(404) if level is None else httpx.Response(200, json=found)
        versions = self.subjects.setdefault(subject, [])
        if parts[-1] == "versions" and request.method == "POST":
            if self.refuse and versions:
                return httpx.Response(409, json={"message": "incompatible", "error_code": 409})
            if body["schema"] not in versions:
                versions.append(body["schema"])
            return httpx.Response(200, json={"id": versions.index(body["schema"]) + 1})
        if parts[-1] == "versions":
            numbers = list(range(1, len(versions) + 1))
            return httpx.Response(200 if versions else 404, json=numbers)
        if len(parts) == 4:  # GET /subjects/<subject>/versions/<n>
            return httpx.Response(200, json={"schema": versions[int(parts[3]) - 1]})
        if body.get("schema") in versions:  # POST /subjects/<subject>: look up
            return httpx.Response(200, json={"version": versions.index(body["schema"]) + 1})
        return httpx.Response(404, json={"error_code": 40401})


def registry(fake: FakeRegistry) -> SchemaRegistry:
    return SchemaRegistry(URL, http=httpx.Client(transport=httpx.MockTransport(fake)))


def test_registers_once_then_writes_nothing() -> None:
    fake, contract = FakeRegistry(), Contract.load()
    first = register_contract(registry(fake), contract)
    subjects = [t.subject for t in contract.record_types]
    assert first == [f"{s}: registered as version 1 (id 1), {COMPATIBILITY}" for s in subjects]
    writes = len(fake.writes)
    assert register_contract(registry(fake), contract) == [
        f"{s}: already registered (version 1)" for s in subjects
    ]
    assert len(fake.writes) == writes  # the second time: lookups only


def test_a_registered_schema_without_the_level_gets_it() -> None:
    fake, contract = FakeRegistry(), Contract.load()
    for record_type in contract.record_types:
        fake.subjects[record_type.subject] = [record_type.schema_str]
    lines = register_contract(registry(fake), contract)
    assert all(line.endswith(f"registered as version 1 (id 1), {COMPATIBILITY}") for line in lines)
    assert set(fake.levels.values()) == {COMPATIBILITY}


def test_a_refused_schema_is_reported_not_forced() -> None:
    fake, contract = FakeRegistry(refuse=True), Contract.load()
    for record_type in contract.record_types:
        fake.subjects[record_type.subject] = ['{"type": "record", "name": "Older", "fields": []}']
    lines = register_contract(registry(fake), contract)
    assert len(lines) == len(contract.record_types)
    for line in lines:
        assert line.startswith("not registered: ")
        assert "refused as incompatible" in line
        assert line.endswith("incompatible; `iotpipe schemas check` says why")


def test_an_unreachable_registry_is_one_line() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    unreachable = SchemaRegistry(URL, http=httpx.Client(transport=httpx.MockTransport(down)))
    [line] = register_contract(unreachable, Contract.load())
    assert line.startswith(f"not registered: schema registry at {URL} unreachable")
