"""The Kafka cluster profile: replication and topic settings from ``compose/kafka-cluster.env``.

That one file configures both deployments: compose hands it to the brokers and to the
``init`` service (``env_file``), and the local stack renders it into each node's
``server.properties`` and creates the topics from it. A cluster smaller than the file
asks for gets each replication factor capped at its broker count and each minimum
in-sync count at one less than that (at least one), so one broker may always be down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from iotpipe.errors import ConfigError
from iotpipe.paths import project_path

__all__ = ["PROFILE_FILE", "ClusterProfile", "load_profile", "property_name"]

PROFILE_FILE = "kafka-cluster.env"


def property_name(variable: str) -> str:
    """``KAFKA_A_B`` -> ``a.b``, the apache/kafka image's mapping (``__`` -> ``_``,
    ``___`` -> ``-``)."""
    if not variable.startswith("KAFKA_"):
        raise ConfigError(f"{variable} is not a KAFKA_* variable")
    name = variable.removeprefix("KAFKA_").lower()
    return (
        name.replace("___", "\0")
        .replace("__", "\1")
        .replace("_", ".")
        .replace("\0", "-")
        .replace("\1", "_")
    )


def _capped(prop: str, value: str, brokers: int) -> str:
    if prop.endswith("replication.factor"):
        return str(min(int(value), brokers))
    if prop == "min.insync.replicas" or prop.endswith("min.isr"):
        return str(min(int(value), max(1, brokers - 1)))
    return value


@dataclass(frozen=True)
class ClusterProfile:
    variables: Mapping[str, str]
    source: Path

    def broker_properties(self, brokers: int) -> dict[str, str]:
        """The broker properties for a cluster of ``brokers`` nodes."""
        return {
            (prop := property_name(name)): _capped(prop, value, brokers)
            for name, value in self.variables.items()
            if name.startswith("KAFKA_")
        }

    def topic_numbers(self, brokers: int) -> tuple[int, int, int]:
        """(partitions, replication factor, min.insync.replicas) on ``brokers`` nodes."""
        try:
            partitions = int(self.variables["IOTPIPE_TOPICS_PARTITIONS"])
            factor = min(int(self.variables["IOTPIPE_TOPICS_REPLICATION_FACTOR"]), brokers)
            insync = int(self.variables["IOTPIPE_TOPICS_MIN_INSYNC_REPLICAS"])
        except KeyError as exc:
            raise ConfigError(f"{self.source} does not set {exc.args[0]}") from exc
        return partitions, factor, min(insync, max(1, factor - 1))


def _parse(path: Path) -> dict[str, str]:
    variables: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigError(f"{path}:{number}: expected NAME=value, got {raw!r}")
        variables[name.strip()] = value.strip()
    for name, value in variables.items():
        if not value.lstrip("-").isdigit():
            raise ConfigError(f"{path}: {name}={value!r} is not a whole number")
    return variables


def load_profile(path: Path | None = None) -> ClusterProfile:
    source = path or project_path("compose", "stack/cluster", PROFILE_FILE) / PROFILE_FILE
    return ClusterProfile(_parse(source), source)
