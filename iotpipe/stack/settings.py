"""Settings of the local stack, and the layout a state folder keeps between commands.

:class:`StackSettings` is what the user asks for (flags and ``IOTPIPE_*`` environment
variables). :class:`StackLayout` is what a state folder actually runs with: the first
``up`` saves it as ``stack.json``, and every later command on that folder (``status``,
``down``, the tests, the other iotpipe commands) reads it, so ports need to be given
once. Two stacks side by side are two state folders with different ports.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from iotpipe.errors import ConfigError

__all__ = [
    "LOOPBACK",
    "MAX_BROKERS",
    "SERVICES",
    "KafkaNode",
    "ServiceName",
    "StackLayout",
    "StackSettings",
    "load_layout",
    "resolve_layout",
    "save_layout",
]

# A service of the stack: "kafka" (all its nodes; the one node of a one-broker stack),
# "kafka-<id>" (one node of a larger one), "registry" or "mongodb".
ServiceName = str
SERVICES: tuple[ServiceName, ...] = ("kafka", "registry", "mongodb")
LOOPBACK = "127.0.0.1"
MAX_BROKERS = 9
LAYOUT_FILE = "stack.json"

Port = int


def _xdg(var: str, fallback: str) -> Path:
    base = os.environ.get(var)
    return Path(base) if base else Path.home() / fallback


def default_state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "iotpipe" / "stack"


def default_cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache") / "iotpipe"


class StackSettings(BaseSettings):
    """What the user asks of the local stack: ``IOTPIPE_<FIELD>`` or the matching flag."""

    model_config = SettingsConfigDict(env_prefix="IOTPIPE_", extra="ignore")

    state_dir: Path = Field(default_factory=default_state_dir)
    cache_dir: Path = Field(default_factory=default_cache_dir)
    kafka_port: Port = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: Port | None = Field(default=None, ge=1, le=65535)
    registry_port: Port = Field(default=8081, ge=1, le=65535)
    registry_management_port: Port | None = Field(default=None, ge=1, le=65535)
    mongodb_port: Port = Field(default=27017, ge=1, le=65535)
    # Kafka nodes (each broker and controller); node i listens on kafka_port + 2(i-1)
    # and kafka_controller_port + 2(i-1).
    brokers: int = Field(default=1, ge=1, le=MAX_BROKERS)
    java_home: Path | None = None
    # Folders holding JDKs, searched after IOTPIPE_JAVA_HOME, JAVA_HOME and PATH.
    jvm_search_path: str = os.pathsep.join(("/usr/lib/jvm", "/usr/lib64/jvm", "/opt/java"))
    start_timeout: float = Field(default=180.0, gt=0)


@dataclass(frozen=True)
class KafkaNode:
    """One KRaft node (broker and controller in one process)."""

    node_id: int
    name: ServiceName
    port: Port
    controller_port: Port

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"


class StackLayout(BaseModel):
    """The ports and identity a state folder runs with; saved as ``stack.json``."""

    kafka_port: Port
    kafka_controller_port: Port
    registry_port: Port
    registry_management_port: Port
    mongodb_port: Port
    cluster_id: str
    brokers: int = Field(default=1, ge=1, le=MAX_BROKERS)  # absent in older stack.json

    @model_validator(mode="after")
    def _ports_distinct(self) -> StackLayout:
        taken: dict[int, str] = {}
        for owner, port in self.all_ports():
            if not 1 <= port <= 65535:
                raise ValueError(f"{owner} would listen on port {port}, outside 1-65535")
            if port in taken:
                raise ValueError(f"{owner} and {taken[port]} would both listen on port {port}")
            taken[port] = owner
        return self

    @property
    def kafka_nodes(self) -> list[KafkaNode]:
        one = self.brokers == 1
        return [
            KafkaNode(
                node_id=i,
                name="kafka" if one else f"kafka-{i}",
                port=self.kafka_port + 2 * (i - 1),
                controller_port=self.kafka_controller_port + 2 * (i - 1),
            )
            for i in range(1, self.brokers + 1)
        ]

    def all_ports(self) -> list[tuple[str, int]]:
        """(owner, port) for every port the stack listens on."""
        kafka = [
            pair
            for node in self.kafka_nodes
            for pair in ((node.name, node.port), (f"{node.name} controller", node.controller_port))
        ]
        return [
            *kafka,
            ("registry", self.registry_port),
            ("registry management", self.registry_management_port),
            ("mongodb", self.mongodb_port),
        ]

    def service_names(self) -> list[ServiceName]:
        """Every service of this stack, Kafka's nodes first (the start order)."""
        return [*(node.name for node in self.kafka_nodes), "registry", "mongodb"]

    def expand(self, names: Iterable[str]) -> list[ServiceName]:
        """Service names as given ("kafka" meaning every Kafka node) -> this stack's own,
        in start order; an unknown name is a ConfigError naming the known ones."""
        known = self.service_names()
        wanted: set[str] = set()
        for name in names:
            if name == "kafka":
                wanted |= {node.name for node in self.kafka_nodes}
            elif name in known:
                wanted.add(name)
            else:
                raise ConfigError(
                    f"no service {name!r} in this stack; it has {', '.join(known)} "
                    '(and "kafka" for all Kafka nodes)'
                )
        return [name for name in known if name in wanted]

    @classmethod
    def from_settings(cls, settings: StackSettings) -> StackLayout:
        return cls(
            kafka_port=settings.kafka_port,
            kafka_controller_port=settings.kafka_controller_port or settings.kafka_port + 1,
            registry_port=settings.registry_port,
            registry_management_port=settings.registry_management_port
            or settings.registry_port + 1,
            mongodb_port=settings.mongodb_port,
            cluster_id=new_cluster_id(),
            brokers=settings.brokers,
        )

    def ports(self) -> dict[str, int]:
        """The layout's shape (ports and broker count): what running services depend on."""
        return self.model_dump(exclude={"cluster_id"})

    @property
    def kafka_bootstrap(self) -> str:
        """Every node's ``host:port``, comma-separated (a client's bootstrap.servers)."""
        return ",".join(node.bootstrap for node in self.kafka_nodes)

    @property
    def registry_url(self) -> str:
        """The Confluent-compatible base URL (what SchemaRegistryClient takes)."""
        return f"http://{LOOPBACK}:{self.registry_port}/apis/ccompat/v7"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://{LOOPBACK}:{self.mongodb_port}/"

    def endpoints(self) -> dict[str, str]:
        return {
            "kafka": self.kafka_bootstrap,
            "registry": self.registry_url,
            "mongodb": self.mongodb_uri,
        }


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding, never starting
    with "-" (one in 64 would: kafka-storage's argument parser then takes the id for an
    option, and Kafka's own Uuid.randomUuid draws again in that case too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def load_layout(state_dir: Path) -> StackLayout | None:
    path = state_dir / LAYOUT_FILE
    try:
        return StackLayout.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (ValidationError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not a valid stack layout ({exc}); fix or remove it") from exc


def save_layout(state_dir: Path, layout: StackLayout) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{LAYOUT_FILE}.tmp"
    tmp.write_text(layout.model_dump_json(indent=2) + "\n")
    tmp.replace(state_dir / LAYOUT_FILE)


_DERIVED = {"kafka_port": "kafka_controller_port", "registry_port": "registry_management_port"}


def explicit_ports(settings: StackSettings) -> set[str]:
    """Port fields the user set (by flag or environment), and the ones derived from them."""
    given = {name for name in settings.model_fields_set if name.endswith("_port")}
    return given | {_DERIVED[name] for name in given if name in _DERIVED}


def explicit_layout_fields(settings: StackSettings) -> set[str]:
    """Layout fields the user set: ports (and those derived from them) and the brokers."""
    return explicit_ports(settings) | ({"brokers"} & settings.model_fields_set)


def resolve_layout(settings: StackSettings) -> StackLayout:
    """The state folder's saved layout with any port the user set explicitly applied."""
    try:
        requested = StackLayout.from_settings(settings)
        saved = load_layout(settings.state_dir.expanduser().resolve())
        if saved is None:
            return requested
        changes = {name: getattr(requested, name) for name in explicit_layout_fields(settings)}
        return StackLayout.model_validate({**saved.model_dump(), **changes})
    except ValidationError as exc:
        problems = "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
        raise ConfigError(f"the stack's ports do not fit together: {problems}") from exc
