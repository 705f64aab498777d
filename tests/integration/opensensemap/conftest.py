"""A real ingest process (shipped uvicorn options) on a topic of its own, with the
conformance boxes, and a consumer that decodes what it produced."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from pydantic import BaseModel

from iotpipe.contract.serde import ContractSerde
from iotpipe.paths import REPO_DIR
from tests.scratch import Scratch
from tests.support import contract_on, free_port, run_cli, stop

BOXES = REPO_DIR / "tests/fixtures/opensensemap/boxes.json"
HOME = "57000b8745fd40c8196ad04c"


@dataclass
class OsemServer:
    port: int
    topic: str
    token: str
    endpoints: dict[str, str]
    process: subprocess.Popen[bytes]

    def send(self, raw: bytes, timeout: float = 20) -> bytes:
        """Write ``raw`` on a fresh connection, as a device does, and read until close."""
        with socket.create_connection(("127.0.0.1", self.port), timeout) as sock:
            sock.sendall(raw)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def mark(self) -> int:
        """The topic's end offset now: what a test produces comes after it."""
        consumer = Consumer(
            {"bootstrap.servers": self.endpoints["kafka"], "group.id": uuid.uuid4().hex}
        )
        try:
            return int(consumer.get_watermark_offsets(TopicPartition(self.topic, 0), 10)[1])
        finally:
            consumer.close()

    def consume(self, since: int, count: int, timeout: float = 30) -> list[BaseModel]:
        """Records from offset ``since`` on (at most ``count``), decoded against the registry;
        a second's grace after ``count`` catches any extra record."""
        serde = ContractSerde(
            SchemaRegistryClient({"url": self.endpoints["registry"]}), contract_on(self.topic)
        )
        consumer = Consumer(
            {
                "bootstrap.servers": self.endpoints["kafka"],
                "group.id": uuid.uuid4().hex,
                "enable.auto.commit": False,
            }
        )
        consumer.assign([TopicPartition(self.topic, 0, since)])
        got: list[BaseModel] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is not None and message.error() is None:
                    headers = message.headers() or []
                    assert isinstance(headers, list)
                    got.append(serde.decode(message.value(), headers, self.topic))
                    if len(got) == count:
                        deadline = min(deadline, time.monotonic() + 1)
        finally:
            consumer.close()
        return got


def boxes_with_token(token: str) -> list[dict[str, Any]]:
    boxes = json.loads(BOXES.read_text())["boxes"]
    out = []
    for given in boxes.values():
        box = dict(given)
        if box.get("access_token") == "{{access_token}}":
            box["access_token"] = token
        out.append(box)
    return out


def import_boxes(folder: Path, token: str, devices_topic: str, kafka: str) -> None:
    """The conformance boxes (``token`` as their access token) put on ``devices_topic``
    by the shipped ``iotpipe devices import``, as an operator would."""
    boxes = folder / "boxes.json"
    boxes.write_text(json.dumps(boxes_with_token(token)))
    imported = run_cli(
        "devices", "import", str(boxes), "--topic", devices_topic,
        "--kafka-bootstrap-servers", kafka,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ingest exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("ingest did not listen in time")


@pytest.fixture(scope="module")
def osem_server(
    endpoints: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    module_scratch: Scratch,
) -> Iterator[OsemServer]:
    topic = module_scratch.topic("it-osem", push=True)
    token = secrets.token_hex(32)
    folder = Path(tmp_path_factory.mktemp("osem"))
    (folder / "boxes.json").write_text(json.dumps(boxes_with_token(token)))
    port = free_port()
    env = {
        **os.environ,
        "IOTPIPE_INGEST_PORT": str(port),
        "IOTPIPE_INGEST_TOPIC": topic,
        "IOTPIPE_INGEST_KAFKA_BOOTSTRAP_SERVERS": endpoints["kafka"],
        "IOTPIPE_INGEST_REGISTRY_URL": endpoints["registry"],
        "IOTPIPE_INGEST_KEYS_FILE": str(folder / "keys.json"),
        "IOTPIPE_TEST_BOXES": str(folder / "boxes.json"),
    }
    log = (folder / "ingest.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.opensensemap.server"],
        env=env,
        cwd=REPO_DIR,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        wait_listening(port, process)
        yield OsemServer(port, topic, token, endpoints, process)
    finally:
        stop(process, 15)
        log.close()
