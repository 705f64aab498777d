"""The three services of the local stack: how each is prepared, launched and probed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Protocol

from iotpipe.cluster import load_profile
from iotpipe.errors import ServiceFailed
from iotpipe.stack.install import Installer
from iotpipe.stack.prereqs import Java
from iotpipe.stack.probes import probe_kafka, probe_mongodb, probe_registry
from iotpipe.stack.settings import LOOPBACK, KafkaNode, ServiceName, StackLayout

__all__ = ["Launch", "LaunchContext", "Service", "service_table"]


@dataclass(frozen=True)
class LaunchContext:
    layout: StackLayout
    data_dir: Path  # this service's own folder under the state folder
    assets: Path
    installer: Installer
    java: Callable[[], Java]  # resolved only when a JVM service must start


@dataclass(frozen=True)
class Launch:
    command: list[str | Path]
    env: dict[str, str]


class Service(Protocol):
    name: ServiceName
    label: str
    stop_grace: float

    def ports(self, layout: StackLayout) -> list[int]: ...
    def endpoint(self, layout: StackLayout) -> str: ...
    def probe(self, layout: StackLayout) -> str | None: ...
    def prepare(self, ctx: LaunchContext) -> Launch: ...


def _render(template: Path, target: Path, **values: object) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(Template(template.read_text()).substitute(values))
    return target


class Kafka:
    """One KRaft node of the stack (broker and controller in one process)."""

    label = "Apache Kafka (KRaft)"
    stop_grace = 30.0  # controlled shutdown flushes logs

    def __init__(self, node: KafkaNode) -> None:
        self.node = node
        self.name: ServiceName = node.name
        if node.name != "kafka":
            self.label = f"Apache Kafka (KRaft node {node.node_id})"

    def ports(self, layout: StackLayout) -> list[int]:
        return [self.node.port, self.node.controller_port]

    def endpoint(self, layout: StackLayout) -> str:
        return self.node.bootstrap

    def probe(self, layout: StackLayout) -> str | None:
        # This node itself must answer (a metadata request sent to it alone).
        return probe_kafka(self.node.bootstrap)

    def prepare(self, ctx: LaunchContext) -> Launch:
        java = ctx.java()  # before any download: a missing JDK is said at once
        libs = ctx.installer.kafka_libs()
        data = ctx.data_dir / "data"
        nodes = ctx.layout.kafka_nodes
        replication = load_profile().broker_properties(len(nodes))
        config = _render(
            ctx.assets / "kafka" / "server.properties",
            ctx.data_dir / "server.properties",
            node_id=self.node.node_id,
            voters=",".join(f"{n.node_id}@{LOOPBACK}:{n.controller_port}" for n in nodes),
            kafka_port=self.node.port,
            controller_port=self.node.controller_port,
            data_dir=data,
            replication="\n".join(f"{key}={value}" for key, value in replication.items()),
        )
        classpath = f"{libs}/*"
        if not (data / "meta.properties").exists():
            formatted = subprocess.run(
                [
                    str(java.executable),
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    ctx.layout.cluster_id,
                    "-c",
                    str(config),
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if formatted.returncode != 0:
                raise ServiceFailed(
                    f"formatting Kafka storage in {data} failed: {formatted.stderr.strip()[-500:]}"
                )
        log4j = ctx.assets / "kafka" / "log4j2.properties"
        return Launch(
            command=[
                java.executable,
                "-Xms256m",
                "-Xmx512m",
                "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={log4j}",
                "-cp",
                classpath,
                "kafka.Kafka",
                config,
            ],
            env=dict(os.environ),
        )


class Registry:
    name: ServiceName = "registry"
    label = "Apicurio Registry (ccompat API)"
    stop_grace = 20.0

    def ports(self, layout: StackLayout) -> list[int]:
        return [layout.registry_port, layout.registry_management_port]

    def endpoint(self, layout: StackLayout) -> str:
        return layout.registry_url

    def probe(self, layout: StackLayout) -> str | None:
        return probe_registry(layout.registry_url)

    def prepare(self, ctx: LaunchContext) -> Launch:
        java = ctx.java()
        home = ctx.installer.registry_home()
        props = _render(
            ctx.assets / "registry" / "application.properties",
            ctx.data_dir / "application.properties",
            registry_port=ctx.layout.registry_port,
            management_port=ctx.layout.registry_management_port,
            data_dir=ctx.data_dir,
        )
        system_props = [
            f"-D{key.strip()}={value.strip()}"
            for line in props.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
            for key, _, value in [line.partition("=")]
        ]
        return Launch(
            command=[
                java.executable,
                "-Xms64m",
                "-Xmx512m",
                "-XX:+UseSerialGC",
                *system_props,
                "-jar",
                home / "quarkus-run.jar",
            ],
            env=dict(os.environ),
        )


class MongoDB:
    name: ServiceName = "mongodb"
    label = "FerretDB (MongoDB wire protocol, SQLite)"
    stop_grace = 10.0

    def ports(self, layout: StackLayout) -> list[int]:
        return [layout.mongodb_port]

    def endpoint(self, layout: StackLayout) -> str:
        return layout.mongodb_uri

    def probe(self, layout: StackLayout) -> str | None:
        return probe_mongodb(layout.mongodb_uri)

    def prepare(self, ctx: LaunchContext) -> Launch:
        binary = ctx.installer.ferretdb_binary()
        return Launch(
            command=[
                binary,
                f"--listen-addr=127.0.0.1:{ctx.layout.mongodb_port}",
                f"--sqlite-dir={ctx.data_dir / 'data'}",
                "--log-level=warn",
            ],
            env=dict(os.environ),
        )


def service_table(layout: StackLayout) -> dict[ServiceName, Service]:
    """The stack's services by name, in start order (Kafka's nodes first)."""
    services: list[Service] = [*(Kafka(node) for node in layout.kafka_nodes)]
    services += [Registry(), MongoDB()]
    return {service.name: service for service in services}
