"""Real ``iotpipe ingest`` and ``iotpipe sink`` processes with known secrets, their
output captured to files, on a test's own topics and database.

Log levels: "info" runs the commands as shipped; "debug" runs the same commands with
every logger (uvicorn's too) at DEBUG, through a tiny launcher that sets the root
logger up before ``iotpipe.cli.main`` runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.devices.world import COMPACTED
from tests.scratch import Scratch
from tests.support import free_port, run_cli, stop
from tests.unit.devices.registry_fakes import box_json

DEBUG_LAUNCHER = """\
import logging, sys
logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s %(message)s")
import ingest.server as server
shipped = server.uvicorn_options
server.uvicorn_options = lambda settings: {**shipped(settings), "log_level": "debug"}
from iotpipe.cli import main
sys.argv = ["iotpipe", *sys.argv[1:]]
main()
"""


def command(level: str, *args: str) -> list[str]:
    if level == "debug":
        return [sys.executable, "-c", DEBUG_LAUNCHER, *args]
    return [sys.executable, "-m", "iotpipe", *args]


@dataclass
class Secrets:
    admin_key: str
    device_key: str
    revoked_key: str
    box_token: str
    mongo_password: str

    def needles(self) -> dict[str, str]:
        """Every secret, each key's secret part, and the SHA-256 of each (the stored form:
        no credential, but material for offline guessing, so it has no business in logs
        or answers either)."""
        found: dict[str, str] = {"MongoDB password": self.mongo_password}
        for name, key in (
            ("admin key", self.admin_key),
            ("device key", self.device_key),
            ("revoked key", self.revoked_key),
        ):
            secret = key.split("_", 2)[2]
            found[name] = key
            found[f"{name} secret"] = secret
            found[f"{name} SHA-256"] = hashlib.sha256(secret.encode()).hexdigest()
        found["box token"] = self.box_token
        found["box token SHA-256"] = hashlib.sha256(self.box_token.encode()).hexdigest()
        return found


@dataclass
class World:
    level: str
    folder: Path
    endpoints: Mapping[str, str]
    secrets: Secrets
    topic: str
    devices_topic: str
    jobs_topic: str
    database: str
    ingest_url: str = ""
    sink_health: str = ""
    captured: dict[str, str] = field(default_factory=dict)  # what -> text to search
    processes: dict[str, subprocess.Popen[Any]] = field(default_factory=dict)

    @property
    def mongodb_uri(self) -> str:
        """The sink's URI with a password. FerretDB (SQLite) accepts any PLAIN credentials,
        so the sink runs with it; SCRAM would be refused."""
        host = self.endpoints["mongodb"].split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        return (
            f"mongodb://iotpipe_sink:{self.secrets.mongo_password}@{host}/"
            "?authSource=$external&authMechanism=PLAIN"
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "IOTPIPE_KAFKA_BOOTSTRAP_SERVERS": self.endpoints["kafka"],
            "IOTPIPE_REGISTRY_URL": self.endpoints["registry"],
            "IOTPIPE_INGEST_KEYS_FILE": str(self.folder / "keys.json"),
            "COLUMNS": "250",
        }

    def cli(self, what: str, *args: str, env: Mapping[str, str] | None = None) -> str:
        """``iotpipe ARGS``; its output is kept to be searched; stdout is returned."""
        done = run_cli(*args, env={**self.env(), **(env or {})}, timeout=120)
        assert done.returncode == 0, f"iotpipe {' '.join(args)}: {done.stderr}"
        self.captured[f"iotpipe {what}"] = done.stdout + done.stderr
        return done.stdout

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")


def _keys(world: World) -> Secrets:
    """Keys made with ``iotpipe keys create`` (whose stdout is the key, shown once: not
    searched) and one revoked with ``iotpipe keys revoke``."""

    def create(*args: str) -> str:
        done = run_cli("keys", "create", *args, env=world.env())
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    admin, device, revoked = create("ops", "--admin"), create("sec-dev-1"), create("sec-dev-2")
    world.cli("keys revoke", "keys", "revoke", revoked.split("_")[1])
    return Secrets(admin, device, revoked, world.secrets.box_token, world.secrets.mongo_password)


def _start(world: World, name: str, args: list[str], env: dict[str, str]) -> None:
    with (world.folder / f"{name}.log").open("wb") as out:
        world.processes[name] = subprocess.Popen(
            command(world.level, *args), env=env, stdout=out, stderr=subprocess.STDOUT
        )


@contextmanager
def running_world(level: str, folder: Path, endpoints: Mapping[str, str]) -> Iterator[World]:
    tag = uuid.uuid4().hex[:8]
    placeholder = Secrets("", "", "", secrets.token_hex(32), f"S3cr3t-canary-{tag}")
    scratch = Scratch(endpoints)  # topics, subjects, groups and database, removed at the end
    topic = scratch.topic_name("it-sec")
    world = World(
        level=level,
        folder=folder,
        endpoints=endpoints,
        secrets=placeholder,
        topic=topic,
        devices_topic=f"{topic}-devices",
        jobs_topic=f"{topic}-jobs",
        database=scratch.database("it_sec"),
    )
    with ExitStack() as cleanup:
        cleanup.callback(scratch.close)
        scratch.make_topics([world.topic, f"{world.topic}.dlq"])
        scratch.make_topics([world.devices_topic], config=COMPACTED)
        scratch.push(world.topic)
        world.secrets = _keys(world)
        box = box_json(access_token=world.secrets.box_token, useAuth=True)
        (folder / "box.json").write_text(json.dumps(box))
        world.cli("devices import", "devices", "import", str(folder / "box.json"),
                  "--topic", world.devices_topic)  # fmt: skip
        ingest_port, health_port = free_port(), free_port()
        world.ingest_url = f"http://127.0.0.1:{ingest_port}"
        world.sink_health = f"http://127.0.0.1:{health_port}"
        _start(world, "ingest", ["ingest", "--port", str(ingest_port)], {
            **world.env(),
            "IOTPIPE_INGEST_TOPIC": world.topic,
            "IOTPIPE_INGEST_DEVICES_TOPIC": world.devices_topic,
            "IOTPIPE_INGEST_JOBS_TOPIC": world.jobs_topic,
            "IOTPIPE_INGEST_JOBS_SOURCE_URL": f"http://127.0.0.1:{free_port()}",
            # Off by default; on here: an operator who turns it on must not leak secrets.
            "IOTPIPE_INGEST_ACCESS_LOG": "true",
            # The worker processes log at the level of the run (the launcher's own logging
            # set-up reaches only the supervisor).
            "IOTPIPE_INGEST_LOG_LEVEL": world.level,
        })  # fmt: skip
        cleanup.callback(stop, world.processes["ingest"])
        # The URI in the environment, as compose passes it (a flag would show the password
        # in the process list).
        _start(world, "sink", ["sink"], {
            **world.env(),
            "IOTPIPE_SINK_MONGODB_URI": world.mongodb_uri,
            "IOTPIPE_SINK_TOPIC": world.topic,
            "IOTPIPE_SINK_DLQ_TOPIC": f"{world.topic}.dlq",
            "IOTPIPE_SINK_GROUP_ID": world.topic,
            "IOTPIPE_SINK_DATABASE": world.database,
            "IOTPIPE_SINK_DEVICES_TOPIC": world.devices_topic,
            "IOTPIPE_SINK_HEALTH_PORT": str(health_port),
        })  # fmt: skip
        cleanup.callback(stop, world.processes["sink"])
        yield world
