"""The three services of the local stack: how each is prepared, launched and probed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Protocol

from iotpipe.errors import ServiceFailed
from iotpipe.stack.install import Installer
from iotpipe.stack.prereqs import Java
from iotpipe.stack.probes import probe_kafka, probe_mongodb, probe_registry
from iotpipe.stack.settings import ServiceName, StackLayout

__all__ = ["SERVICE_TABLE", "Launch", "LaunchContext", "Service"]


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
    name: ServiceName = "kafka"
    label = "Apache Kafka (KRaft)"
    stop_grace = 30.0  # controlled shutdown flushes logs

    def ports(self, layout: StackLayout) -> list[int]:
        return [layout.kafka_port, layout.kafka_controller_port]

    def endpoint(self, layout: StackLayout) -> str:
        return layout.kafka_bootstrap

    def probe(self, layout: StackLayout) -> str | None:
        return probe_kafka(layout.kafka_bootstrap)

    def prepare(self, ctx: LaunchContext) -> Launch:
        java = ctx.java()  # before any download: a missing JDK is said at once
        libs = ctx.installer.kafka_libs()
        data = ctx.data_dir / "data"
        config = _render(
            ctx.assets / "kafka" / "server.properties",
            ctx.data_dir / "server.properties",
            kafka_port=ctx.layout.kafka_port,
            controller_port=ctx.layout.kafka_controller_port,
            data_dir=data,
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


SERVICE_TABLE: dict[ServiceName, Service] = {s.name: s for s in (Kafka(), Registry(), MongoDB())}
