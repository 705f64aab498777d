"""The real :class:`~iotpipe.topics.TopicAdmin`: confluent-kafka's AdminClient.

Every Kafka error is wrapped here, at the boundary, into :class:`KafkaUnavailable` (no
answer) or :class:`KafkaAdminError` (an answer that says no), with the broker's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined] # re-exported, no __all__
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)
from confluent_kafka.cimpl import NewPartitions, NewTopic

from iotpipe.errors import KafkaAdminError, KafkaUnavailable
from iotpipe.topics import MANAGED_CONFIGS, TopicSpec, TopicState

__all__ = ["KafkaTopicAdmin"]

# librdkafka reports every failed connection attempt; the command says it once instead.
_rdkafka_log = logging.getLogger("iotpipe.kafka_admin.rdkafka")
_rdkafka_log.addHandler(logging.NullHandler())


def _reason(exc: BaseException) -> str:
    error = exc.args[0] if exc.args else None
    return str(error.str()) if isinstance(error, KafkaError) else str(exc) or type(exc).__name__


class KafkaTopicAdmin:
    """Topic administration on one cluster, each call bounded by ``timeout`` seconds."""

    def __init__(self, bootstrap_servers: str, *, timeout: float = 15.0) -> None:
        self.where = bootstrap_servers
        self._timeout = timeout
        self._client = AdminClient(
            {
                "bootstrap.servers": bootstrap_servers,
                "socket.connection.setup.timeout.ms": int(timeout * 1000),
            },
            logger=_rdkafka_log,
        )

    def _unavailable(self, exc: BaseException) -> KafkaUnavailable:
        return KafkaUnavailable(
            f"Kafka at {self.where} did not answer within {self._timeout:g} s "
            f"({_reason(exc)}); is it running, and is the address right? "
            "(--kafka-bootstrap-servers or IOTPIPE_KAFKA_BOOTSTRAP_SERVERS)"
        )

    def _wait(self, future: Future[Any], what: str) -> Any:
        try:
            return future.result(timeout=self._timeout)
        except FutureTimeout as exc:
            raise self._unavailable(exc) from exc
        except KafkaException as exc:
            raise KafkaAdminError(f"{what}: {_reason(exc)}") from exc

    def _metadata(self) -> Any:
        try:
            return self._client.list_topics(timeout=self._timeout)
        except KafkaException as exc:
            raise self._unavailable(exc) from exc

    def broker_count(self) -> int:
        return len(self._metadata().brokers)

    def list_names(self) -> list[str]:
        return sorted(self._metadata().topics)

    def describe(self, names: Sequence[str]) -> dict[str, TopicState]:
        topics = self._metadata().topics
        found = {name: topics[name] for name in names if name in topics}
        if not found:
            return {}
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in found]
        futures = self._client.describe_configs(resources, request_timeout=self._timeout)
        configs: dict[str, dict[str, str]] = {}
        for resource, future in futures.items():
            entries = self._wait(future, f"cannot read the configs of {resource.name}")
            configs[resource.name] = {
                key: str(entries[key].value) for key in MANAGED_CONFIGS if key in entries
            }
        states = {}
        for name, metadata in found.items():
            partitions = metadata.partitions.values()
            states[name] = TopicState(
                name=name,
                partitions=len(partitions),
                replication_factor=max((len(p.replicas) for p in partitions), default=0),
                configs=configs.get(name, {}),
            )
        return states

    def create(self, spec: TopicSpec) -> bool:
        topic = NewTopic(
            spec.name,
            num_partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            config=dict(spec.configs),
        )
        future = self._client.create_topics(
            [topic], operation_timeout=self._timeout, request_timeout=self._timeout
        )[spec.name]
        try:
            self._wait(future, f"cannot create {spec.name}")
        except KafkaAdminError as exc:
            cause = exc.__cause__
            error = cause.args[0] if isinstance(cause, KafkaException) and cause.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return False
            raise
        return True

    def add_partitions(self, name: str, total: int) -> None:
        futures = self._client.create_partitions(
            [NewPartitions(name, total)],
            operation_timeout=self._timeout,
            request_timeout=self._timeout,
        )
        self._wait(futures[name], f"cannot grow {name} to {total} partitions")

    def set_configs(self, name: str, configs: Mapping[str, str]) -> None:
        entries = [
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
            for key, value in configs.items()
        ]
        resource = ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)
        futures = self._client.incremental_alter_configs([resource], request_timeout=self._timeout)
        for future in futures.values():
            self._wait(future, f"cannot set {', '.join(configs)} on {name}")
