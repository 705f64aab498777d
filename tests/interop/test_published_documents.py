"""What we publish for integrators, checked by others' tools: the OpenAPI document by
openapi-spec-validator and Redocly CLI's lint (tests/interop/validators/redocly.yaml says
which rules are off and why), the AsyncAPI document by the AsyncAPI Initiative's parser
(with its Avro schema parser), the JSON Schemas against their own draft's meta-schema.

The OpenAPI document is ``generated/openapi.json``: ``iotpipe codegen --check`` keeps it
equal to the one ingest serves at ``/openapi.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import validator_for
from openapi_spec_validator import validate

from iotpipe.paths import REPO_DIR
from tests.interop.builds import node_project, run

GENERATED = REPO_DIR / "generated"
VALIDATORS = Path(__file__).parent / "validators"
# AsyncAPI 3.1.0 exists; 3.0.0 is kept as the version every AsyncAPI tool reads (the
# parser's only remark on it, severity 2 "information", is that a newer one exists).
ALLOWED_ASYNCAPI_REMARKS = {"asyncapi-latest-version"}


@pytest.fixture(scope="module")
def validators() -> Path:
    return node_project(VALIDATORS)  # ~10 s on a fresh machine, then cached


def _openapi() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GENERATED / "openapi.json").read_text())
    return doc


def test_openapi_document_is_valid_openapi() -> None:
    doc = _openapi()
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises with the first violation of the OpenAPI 3.1 schema


def test_openapi_document_passes_redocly_lint(validators: Path) -> None:
    env = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    report = json.loads(
        run(
            [validators / "node_modules/.bin/redocly", "lint", GENERATED / "openapi.json",
             "--config", VALIDATORS / "redocly.yaml", "--format=json"],
            env={**os.environ, **env},
            check=False,  # exits 1 on errors; the report says which
        )
    )  # fmt: skip
    problems = [
        f"{p['severity']} {p['ruleId']} {p['location'][0]['pointer']}: {p['message']}"
        for p in report["problems"]
    ]
    assert problems == []
    # operation-4xx-response is off for operations without input; those with input must
    # still say how they refuse it.
    for path, operations in _openapi()["paths"].items():
        for method, operation in operations.items():
            takes_input = operation.get("parameters") or "requestBody" in operation
            if takes_input or operation["security"]:
                assert any(s.startswith("4") for s in operation["responses"]), (method, path)


def test_asyncapi_document_parses_without_remarks(validators: Path) -> None:
    found = json.loads(
        run(["node", validators / "asyncapi.mjs", GENERATED / "asyncapi.json"], cwd=validators)
    )
    remarks = [d for d in found if d["code"] not in ALLOWED_ASYNCAPI_REMARKS]
    assert remarks == []
    assert all(d["severity"] >= 2 for d in found)  # what is allowed is no error or warning


@pytest.mark.parametrize(
    "path", sorted((GENERATED / "jsonschema").glob("*.json")), ids=lambda p: p.name
)
def test_json_schema_is_valid_for_its_draft(path: Path) -> None:
    schema = json.loads(path.read_text())
    draft = validator_for(schema)  # the draft its $schema names
    assert schema["$schema"] == draft.META_SCHEMA["$id"].rstrip("#"), "no draft known by that"
    draft.check_schema(schema)  # against the draft's meta-schema
    for example in schema["examples"]:  # and its own examples are valid instances
        draft(schema, format_checker=draft.FORMAT_CHECKER).validate(example)
