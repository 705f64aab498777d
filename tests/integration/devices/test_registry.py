"""The device registry on the real Kafka: imported by the CLI, followed by a running
follower (as ingest does), updated, removed, listed; topics made on purpose only."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iotpipe.devices.boxes import Box, hash_token
from iotpipe.devices.follower import RegistryFollower
from iotpipe.kafka_admin import KafkaTopicAdmin
from tests.integration.devices.world import drop_topics, eventually, make_topic
from tests.support import run_cli
from tests.unit.devices.registry_fakes import BOX_ID, SENSOR_ID, TOKEN, box_json

OTHER_ID = "5a1100000000000000d10000"
NEW_SENSOR = "5a1100000000000000d1ffff"
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def follower(kafka: str, registry_topic: str) -> Iterator[RegistryFollower]:
    running = RegistryFollower.connect(kafka, registry_topic)
    running.start()
    yield running
    running.close()


def write(tmp_path: Path, data: Any) -> str:
    path = tmp_path / f"boxes-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(data))
    return str(path)


def name_of(directory: RegistryFollower, box_id: str) -> str | None:
    found: Box | None = directory.get(box_id)
    return None if found is None else found.name


def test_import_is_followed_live_then_update_and_removal_propagate(
    kafka: str,
    follower: RegistryFollower,
    registry_topic: str,
    devices_cli: Cli,
    tmp_path: Path,
) -> None:
    assert follower.wait_caught_up(15)
    assert follower.all() == []

    boxes = [box_json(), box_json(OTHER_ID, name="Garten", useAuth=False)]
    code, stdout, stderr = devices_cli("import", write(tmp_path, boxes), "--topic", registry_topic)
    assert code == 0, stderr
    assert f"published 2 box(es) to {registry_topic}" in stderr
    assert BOX_ID in stdout
    assert "Garten" in stdout
    for secret in (TOKEN, hash_token(TOKEN)):
        assert secret not in stdout + stderr

    seen_after = eventually(lambda: follower.count() == 2)
    assert seen_after is not None
    assert seen_after < 5  # "about a second" after the import command returned
    known = follower.get(BOX_ID)
    assert known is not None
    assert known.token_matches(TOKEN)
    assert not known.token_matches("guess")
    assert known.sensor(SENSOR_ID) is not None

    code, stdout, stderr = devices_cli("list", "--topic", registry_topic, "--json")
    assert code == 0, stderr
    rows = {row["_id"]: row for row in json.loads(stdout)}
    assert set(rows) == {BOX_ID, OTHER_ID}
    assert (rows[BOX_ID]["hasToken"], rows[BOX_ID]["useAuth"]) == (True, True)
    assert rows[OTHER_ID]["name"] == "Garten"
    assert "token" not in json.dumps(rows).replace("hasToken", "")
    code, stdout, _ = devices_cli("list", "--topic", registry_topic)
    assert code == 0
    assert "2 box(es)" in stdout
    assert "Garten" in stdout

    sensors = [*box_json()["sensors"], {"_id": NEW_SENSOR, "title": "PM10", "unit": "µg/m³"}]
    updated = box_json(name="Oststr (moved)", sensors=sensors)
    code, _, stderr = devices_cli("import", write(tmp_path, updated), "--topic", registry_topic)
    assert code == 0, stderr
    assert eventually(lambda: name_of(follower, BOX_ID) == "Oststr (moved)") is not None
    moved = follower.get(BOX_ID)
    assert moved is not None
    assert moved.sensor(NEW_SENSOR) is not None

    code, _, stderr = devices_cli("remove", OTHER_ID, "--topic", registry_topic)
    assert code == 0, stderr
    assert eventually(lambda: follower.get(OTHER_ID) is None) is not None
    code, _, stderr = devices_cli("remove", OTHER_ID, "--topic", registry_topic)
    assert code == 1
    assert f"box {OTHER_ID} is not in {registry_topic}" in stderr

    # A follower started now (an ingest restarting) reads the same registry.
    fresh = RegistryFollower.connect(kafka, registry_topic)
    fresh.start()
    try:
        assert fresh.wait_caught_up(15)
        assert [(b.id, b.name) for b in fresh.all()] == [(BOX_ID, "Oststr (moved)")]
    finally:
        fresh.close()


def test_import_refuses_a_missing_or_uncompacted_topic_and_creates_none(
    kafka: str, devices_cli: Cli, tmp_path: Path
) -> None:
    missing = f"it-devices-missing-{uuid.uuid4().hex[:8]}"
    deleting = f"it-devices-delete-{uuid.uuid4().hex[:8]}"
    make_topic(kafka, deleting, {"cleanup.policy": "delete"})
    try:
        file = write(tmp_path, box_json())
        code, _, stderr = devices_cli("import", file, "--topic", missing)
        assert code == 2
        assert f"the registry topic {missing} does not exist" in stderr
        assert "iotpipe topics ensure" in stderr
        code, _, stderr = devices_cli("import", file, "--topic", deleting)
        assert code == 2
        assert "cleanup.policy=delete, not compact" in stderr
        code, _, stderr = devices_cli("list", "--topic", missing)
        assert code == 2
        assert "does not exist" in stderr
        assert "Traceback" not in stderr
        assert missing not in KafkaTopicAdmin(kafka).list_names()  # nothing auto-created
    finally:
        drop_topics(kafka, [deleting, missing])


def test_topics_ensure_makes_the_registry_topic_compacted(kafka: str, devices_cli: Cli) -> None:
    base = f"it-devtopics-{uuid.uuid4().hex[:8]}"
    names = [base, f"{base}.dlq", f"{base}.devices"]
    env_kafka = {"IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": kafka, "COLUMNS": "250"}
    try:
        result = run_cli(
            "topics", "ensure", "--topic", base, "--devices-topic", f"{base}.devices",
            env={**os.environ, **env_kafka}, timeout=90,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"{base}.devices: created (1 partitions" in result.stdout
        state = KafkaTopicAdmin(kafka).describe([f"{base}.devices"])[f"{base}.devices"]
        assert state.configs["cleanup.policy"] == "compact"
        assert state.configs["retention.ms"] == "-1"
        code, _, stderr = devices_cli("list", "--topic", f"{base}.devices")
        assert code == 0, stderr
    finally:
        drop_topics(kafka, names)


def test_unreachable_kafka_is_one_sentence(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "250"}
    away = ("--kafka-bootstrap-servers", "127.0.0.1:1", "--timeout", "2")
    listing = run_cli("devices", "list", *away, env=env)
    assert listing.returncode == 1
    assert "error: could not read iotpipe.devices to its end from Kafka at 127.0.0.1:1" in (
        " ".join(listing.stderr.split())
    )
    importing = run_cli("devices", "import", write(tmp_path, box_json()), *away, env=env)
    assert importing.returncode == 1
    assert "error: Kafka at 127.0.0.1:1 did not answer" in " ".join(importing.stderr.split())
    assert "Traceback" not in listing.stderr + importing.stderr
