"""Wire the real adapters and run the sink until SIGTERM/SIGINT (then exit 0)."""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from iotpipe.contract.catalog import Contract
from iotpipe.contract.serde import ContractSerde
from iotpipe.endpoints import endpoint_settings, resolve_endpoints
from iotpipe.logs import RepeatsDropped
from iotpipe.runtime import tune_gc
from sink.cluster import ClusterWatch
from sink.devices import start_devices_mirror
from sink.dlq import DeadLetterWriter
from sink.health import SinkMetrics, serve_health
from sink.runner import SinkRunner
from sink.settings import SinkSettings
from sink.store.mongo import MongoStore

__all__ = ["Built", "build_runner", "consumer_config", "run", "tune_runtime"]

_rdkafka_log = logging.getLogger("iotpipe.sink.rdkafka")
_rdkafka_log.addFilter(RepeatsDropped(30.0))  # a broker down is reported on each reconnect


def consumer_config(settings: SinkSettings, kafka: str) -> dict[str, Any]:
    """The sink's consumer settings (without its callbacks)."""
    return {
        "bootstrap.servers": kafka,
        "group.id": settings.group_id,
        "partition.assignment.strategy": settings.assignment_strategy,
        "session.timeout.ms": settings.session_timeout_ms,
        "heartbeat.interval.ms": settings.session_timeout_ms // 3,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "statistics.interval.ms": 5000,
        "fetch.wait.max.ms": 50,  # a quiet topic must not hold records back for 500 ms
        "logger": _rdkafka_log,
    }


@dataclass(frozen=True)
class Built:
    runner: SinkRunner
    store: MongoStore
    metrics: SinkMetrics
    cluster: ClusterWatch | None  # None: cluster_check_seconds is 0


def build_runner(settings: SinkSettings) -> Built:
    endpoints = resolve_endpoints(
        endpoint_settings(
            kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
            registry_url=settings.registry_url,
            mongodb_uri=settings.mongodb_uri,
        )
    )
    serde = ContractSerde(SchemaRegistryClient({"url": endpoints.registry}), Contract.load())
    holder: dict[str, SinkRunner] = {}

    def on_stats(raw: str) -> None:  # the runner exists by the time stats arrive
        holder["runner"].on_stats(raw)

    producer_config: dict[str, Any] = {
        "bootstrap.servers": endpoints.kafka,
        "acks": "all",
        "enable.idempotence": True,
        "logger": _rdkafka_log,
    }
    store = MongoStore.connect(
        endpoints.mongodb.get_secret_value(),
        settings.database,
        timedelta(days=settings.retention_days),
        split_min=settings.write_split_min,
    )
    metrics = SinkMetrics()
    runner = SinkRunner(
        consumer=Consumer({**consumer_config(settings, endpoints.kafka), "stats_cb": on_stats}),
        serde=serde,
        store=store,
        dead_letters=DeadLetterWriter(Producer(producer_config), settings.dlq_topic),
        settings=settings,
        metrics=metrics,
    )
    holder["runner"] = runner
    cluster = None
    if settings.cluster_check_seconds > 0:
        admin_config: dict[str, Any] = {
            "bootstrap.servers": endpoints.kafka,
            "logger": _rdkafka_log,
        }
        admin = AdminClient(admin_config)
        cluster = ClusterWatch(
            admin,
            [settings.topic, settings.dlq_topic],
            metrics,
            interval=settings.cluster_check_seconds,
        )
    return Built(runner, store, metrics, cluster)


def tune_runtime(settings: SinkSettings) -> None:
    """The garbage collector, once the sink is built (see the settings)."""
    tune_gc(settings.gc_gen0_threshold, freeze=settings.gc_freeze)


def run(settings: SinkSettings) -> int:
    built = build_runner(settings)
    runner, store, metrics = built.runner, built.store, built.metrics
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: runner.stop.set())
    server = None
    if settings.health_port:
        server = serve_health(settings.health_host, settings.health_port, metrics, runner.state)
    devices = start_devices_mirror(settings)
    if built.cluster is not None:
        built.cluster.start()
    tune_runtime(settings)
    try:
        runner.run()
    finally:
        if built.cluster is not None:
            built.cluster.close()
        if devices is not None:
            devices.close()
        store.close()
        if server is not None:
            server.shutdown()
    return 0
