"""`iotpipe schemas check` against the real registry: a refused change names the field and
the rule, against which registered version; a compatible change passes.

Each test registers today's SensorReading under a subject of its own (a throwaway topic),
or, for the command line, checks a temporary git checkout's working tree against its
last commit, which the command registers under throwaway subjects itself.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iotpipe.contract.catalog import Contract, RecordType
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.errors import ContractError
from iotpipe.paths import REPO_DIR
from tests.support import run_cli

READING = Contract.load().by_name("SensorReading")
Change = Callable[[dict[str, Any]], None]


@pytest.fixture
def registry(endpoints: dict[str, str]) -> Iterator[SchemaRegistry]:
    client = SchemaRegistry(endpoints["registry"])
    yield client
    client.close()


@pytest.fixture
def topic(registry: SchemaRegistry) -> Iterator[str]:
    name = f"it-check-{uuid.uuid4().hex[:8]}"
    yield name
    registry.delete_subject(f"{name}-{READING.fullname}")


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def reading(topic: str, change: Change | None = None) -> Contract:
    schema = copy.deepcopy(READING.schema)
    if change is not None:
        change(schema)
    return Contract((RecordType(schema_file=READING.schema_file, schema=schema, topic=topic),))


def add_battery(schema: dict[str, Any]) -> None:
    schema["fields"].append({"name": "battery", "type": "double", "doc": "Volts."})


def rename_unit(schema: dict[str, Any]) -> None:
    field(schema, "unit")["name"] = "unit_symbol"


def narrow_sensor_kind(schema: dict[str, Any]) -> None:
    kind = field(schema, "sensor_kind")["type"]
    kind["symbols"].remove("VOC")
    del kind["default"]  # with its default OTHER, old VOC records would read as OTHER


def value_to_string(schema: dict[str, Any]) -> None:
    field(schema, "value")["type"] = "string"


def add_optional_firmware(schema: dict[str, Any]) -> None:
    schema["fields"].append(
        {"name": "firmware", "type": ["null", "string"], "default": None, "doc": "Build."}
    )


REFUSED = {
    "required-field": (
        add_battery,
        "field 'battery' added without a default: old records cannot be read by the new schema",
    ),
    "rename-without-alias": (
        rename_unit,
        "field 'unit' renamed to 'unit_symbol' without an alias: old records cannot be read "
        "by the new schema",
    ),
    "narrowed-enum": (
        narrow_sensor_kind,
        "enum SensorKind of field 'sensor_kind' lost symbol VOC and has no default: old "
        "records cannot be read by the new schema",
    ),
    "type-change": (
        value_to_string,
        "field 'value' changed type from double to string: old records cannot be read by the "
        "new schema, nor new records by the old schema",
    ),
}


@pytest.mark.parametrize("kind", REFUSED)
def test_a_bad_change_is_refused_naming_the_field_and_the_rule(
    registry: SchemaRegistry, topic: str, kind: str
) -> None:
    change, reason = REFUSED[kind]
    registry.push(reading(topic))
    subject = f"{topic}-{READING.fullname}"
    bad = reading(topic, change)
    assert not registry._registry_accepts(subject, 1, bad.record_types[0].schema_str)
    [result] = registry.check_contract(bad)
    assert result.status == "incompatible"
    line = f"{subject}: refused (FULL_TRANSITIVE against version 1): {reason}"
    assert line in result.reasons, result.reasons
    with pytest.raises(ContractError, match="refused as incompatible") as refused:
        registry.push(bad)
    assert reason in str(refused.value)
    assert registry.versions(subject) == [1]


def test_an_optional_field_with_a_null_default_is_accepted(
    registry: SchemaRegistry, topic: str
) -> None:
    registry.push(reading(topic))
    [result] = registry.check_contract(reading(topic, add_optional_firmware))
    assert (result.status, result.refusals) == ("compatible", ())
    subject = f"{topic}-{READING.fullname}"
    assert result.verdict == f"{subject}: compatible (FULL_TRANSITIVE against version 1)"
    assert registry.push(reading(topic, add_optional_firmware))[0].version == 2


def test_every_registered_version_counts_not_only_the_latest(
    registry: SchemaRegistry, topic: str
) -> None:
    """v2 adds an optional field; a v3 that drops its default reads v2's records but not
    v1's: FULL_TRANSITIVE refuses it against version 1 only (the latest alone would pass)."""
    registry.push(reading(topic))
    registry.push(reading(topic, add_optional_firmware))

    def firmware_required(schema: dict[str, Any]) -> None:
        add_optional_firmware(schema)
        del field(schema, "firmware")["default"]

    subject = f"{topic}-{READING.fullname}"
    v3 = reading(topic, firmware_required)
    assert registry._registry_accepts(subject, 2, v3.record_types[0].schema_str)
    [result] = registry.check_contract(v3)
    assert result.against == (1, 2)
    assert result.reasons == (
        f"{subject}: refused (FULL_TRANSITIVE against version 1): field 'firmware' "
        "added without a default: old records cannot be read by the new schema",
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git checkout holding today's schemas/ in its last commit."""
    shutil.copytree(REPO_DIR / "schemas", tmp_path / "schemas")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "schemas"],
        ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "schemas"],
    ):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)
    return tmp_path


def edit(checkout: Path, change: Change) -> None:
    path = checkout / "schemas" / "sensor_reading.avsc"
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=2))


def check_against_head(
    checkout: Path, endpoints: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IOTPIPE_REGISTRY_URL": endpoints["registry"], "COLUMNS": "300"}
    schemas = str(checkout / "schemas")
    return run_cli("schemas", "check", "--schemas", schemas, "--against", "HEAD", env=env)


def test_cli_refuses_a_working_tree_change_against_the_last_commit(
    checkout: Path, endpoints: dict[str, str]
) -> None:
    edit(checkout, add_battery)
    done = check_against_head(checkout, endpoints)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "sensor-data-dev.iotpipe.DeviceEvent: compatible (FULL_TRANSITIVE against version 1)",
        "sensor-data-dev.iotpipe.SensorReading: refused (FULL_TRANSITIVE against version 1): "
        "field 'battery' added without a default: old records cannot be read by the new schema",
    ]
    assert "against HEAD (" in done.stderr


def test_cli_accepts_an_optional_field(checkout: Path, endpoints: dict[str, str]) -> None:
    edit(checkout, add_optional_firmware)
    done = check_against_head(checkout, endpoints)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": compatible (FULL_TRANSITIVE against version 1)") == 2


def test_the_registrys_own_causes_are_mapped_to_the_field(
    registry: SchemaRegistry, topic: str
) -> None:
    """The fallback for a refusal only the registry makes: Apicurio's causes point at
    ``/fields/4/type``; the check reports the field that path names."""
    registry.push(reading(topic))
    bad = reading(topic, value_to_string).record_types[0]
    reasons = registry._registry_reasons(f"{topic}-{READING.fullname}", bad.schema_str, bad.schema)
    assert {name for name, _ in reasons} == {"value"}
    assert all(text.endswith("at /fields/4/type (field 'value')") for _, text in reasons), reasons
