"""A TypeScript client generated from the OpenAPI document a real ingest serves, used as
an integrator would: readings accepted (202), bad input answered as documented.

``iotpipe ingest`` runs as shipped (its own process, a free port, the live test's topic).
Its ``/openapi.json`` is downloaded, ``openapi-typescript`` turns it into types
(``--default-non-nullable false``: a field with a default stays optional in a request),
``tsc`` compiles ``tests/interop/http-client/src/send.ts`` against them and the program
runs. The client is generated on every run, never committed: it is a function of the
served document, and compiling the program against it is the drift check (a change to
the API that breaks the program, or that makes the generated types accept what they
refuse today, fails the build). Each answer must be one the operation declares: its
status, media type and body shape, with no field the schema does not name."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from tests.integration.ingest.conftest import DEVICE, live_settings, start_ingest
from tests.interop.builds import node_project, run
from tests.support import stop

__all__ = ["live_settings"]  # the real ingest's settings fixture, used here

pytestmark = pytest.mark.timeout(300)  # a fresh machine installs the packages first

PROJECT = Path(__file__).parent / "http-client"
BATCH_LIMIT = 5


@pytest.fixture(scope="module")
def served(live_settings: tuple[IngestSettings, Contract, str, str]) -> Iterator[tuple[str, str]]:
    """The base URL of a shipped ingest process, and the device's key."""
    settings, _, admin_key, device_key = live_settings
    ingest = start_ingest(
        settings,
        admin_key,
        device_key,
        IOTPIPE_INGEST_MAX_BATCH_RECORDS=str(BATCH_LIMIT),
    )
    try:
        yield ingest.base, device_key
    finally:
        stop(ingest.process, 30)


def _strict(components: dict[str, Any]) -> dict[str, Any]:
    """The document's schemas with every object closed to fields it does not name."""
    closed = copy.deepcopy(components)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(closed)
    return closed


@pytest.fixture(scope="module")
def packages() -> Path:
    return node_project(PROJECT)  # first: without Node.js, no ingest is started


def test_generated_client_is_answered_as_the_document_declares(
    packages: Path, served: tuple[str, str], tmp_path: Path
) -> None:
    base, device_key = served
    work = tmp_path / "http-client"
    work.mkdir()
    for name in ("package.json", "tsconfig.json", "src/send.ts"):
        (work / name).parent.mkdir(exist_ok=True)
        (work / name).write_bytes((PROJECT / name).read_bytes())
    (work / "node_modules").symlink_to(packages / "node_modules")
    document = httpx.get(f"{base}/openapi.json", timeout=10).json()  # what integrators get
    (work / "openapi.json").write_text(json.dumps(document))
    run(["npm", "run", "--silent", "generate"], cwd=work)
    run(["npm", "run", "--silent", "build"], cwd=work)
    printed = run(
        ["node", "out/send.js", base, device_key, DEVICE, str(BATCH_LIMIT)], cwd=work, timeout=60
    )
    answers = {a["case"]: a for a in map(json.loads, printed.splitlines())}

    operations = {
        "/v1/readings": document["paths"]["/v1/readings"]["post"],
        "/v1/readings/batch": document["paths"]["/v1/readings/batch"]["post"],
    }
    expected = {  # case: (operation, status, JSON pointer of the record error or None)
        "single": ("/v1/readings", 202, None),
        "no-event-id": ("/v1/readings", 202, None),
        "batch": ("/v1/readings/batch", 202, None),
        "missing-field": ("/v1/readings", 422, "/unit"),
        "wrong-type": ("/v1/readings", 422, "/value"),
        "unknown-key": ("/v1/readings", 401, None),
        "no-key": ("/v1/readings", 401, None),
        "other-device": ("/v1/readings", 403, "/device_id"),
        "oversized-batch": ("/v1/readings/batch", 413, None),
        "batch-partly-bad": ("/v1/readings/batch", 202, None),
    }
    assert set(answers) == set(expected)
    components = _strict(document["components"])
    for case, (path, status, pointer) in expected.items():
        answer = answers[case]
        assert answer["status"] == status, answer
        declared = operations[path]["responses"][str(status)]["content"]
        (media_type, content), *others = declared.items()
        assert others == [] and answer["contentType"] == media_type, answer
        schema = {"$ref": content["schema"]["$ref"], "components": components}
        Draft202012Validator(schema).validate(answer["body"])
        if pointer is not None:
            assert [e["pointer"] for e in answer["body"]["errors"]] == [pointer], answer

    assert answers["single"]["body"]["record_type"] == "dev.iotpipe.SensorReading"
    assert uuid.UUID(answers["no-event-id"]["body"]["event_id"])  # assigned by ingest
    assert answers["batch"]["body"]["accepted"] == 3
    partly = answers["batch-partly-bad"]["body"]
    assert (partly["accepted"], partly["rejected"]) == (1, 1)
    assert [r["status"] for r in partly["results"]] == ["accepted", "rejected"]
