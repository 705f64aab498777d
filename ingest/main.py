"""Wire the real adapters (``build_app``) and the entry point uvicorn calls in each server
process (``ingest.main:server_app``)."""

from __future__ import annotations

from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from fastapi import FastAPI

from ingest.app import create_app
from ingest.devices import RegistryStates, close_on_shutdown, follow_registry
from ingest.jobs.kafka_store import KafkaJobStore
from ingest.jobs.runner import JobPorts
from ingest.publisher.kafka import KafkaPublisher, producer_config
from ingest.server import tune_runtime
from ingest.settings import IngestSettings
from iotpipe.contract.catalog import Contract
from iotpipe.contract.registry import SchemaRegistry
from iotpipe.contract.serde import ContractSerde
from iotpipe.endpoints import endpoint_settings, resolve_endpoints
from iotpipe.redact import redact_logs

__all__ = ["build_app", "ingest_producer_config", "kafka_publisher", "server_app"]


def build_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    # uvicorn has set its logging up by now; at debug level it would log WebSocket
    # handshake headers (API keys) and frames.
    redact_logs("uvicorn", "uvicorn.access", "uvicorn.error")
    endpoints = resolve_endpoints(
        endpoint_settings(
            kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
            registry_url=settings.registry_url,
        )
    )
    contract = Contract.load()
    publisher = kafka_publisher(settings, contract, endpoints.kafka, endpoints.registry)
    boxes = follow_registry(settings, endpoints.kafka)
    app = create_app(
        settings=settings,
        publisher=publisher,
        contract=contract,
        registry=SchemaRegistry(endpoints.registry),
        boxes=boxes,
        jobs=JobPorts.default(settings, KafkaJobStore(endpoints.kafka, settings.jobs_topic)),
        device_states=RegistryStates(boxes, endpoints.kafka, settings.devices_topic),
    )
    close_on_shutdown(app, boxes)
    return app


def server_app() -> FastAPI:
    """The app a server process serves (``iotpipe ingest``; each worker calls this): built,
    then the process's runtime tuned. Tests build apps with ``build_app`` and keep their
    own runtime as it is."""
    settings = IngestSettings()
    app = build_app(settings)
    tune_runtime(settings)
    return app


def ingest_producer_config(settings: IngestSettings, kafka: str) -> dict[str, Any]:
    """confluent-kafka's producer configuration as ingest's settings make it (also what
    the bench's bare producer and stage costs use)."""
    return producer_config(
        kafka,
        delivery_timeout_ms=settings.delivery_timeout_ms,
        queue_max_records=settings.queue_max_records,
        compression=settings.compression,
        linger_ms=settings.linger_ms,
    )


def kafka_publisher(
    settings: IngestSettings, contract: Contract, kafka: str, registry: str
) -> KafkaPublisher:
    """The real publisher, configured from ingest's settings."""
    serde = ContractSerde(SchemaRegistryClient({"url": registry}), contract)
    return KafkaPublisher(
        config=ingest_producer_config(settings, kafka),
        serde=serde,
        topic=settings.topic,
        registry_url=registry,
        retry_after=settings.retry_after_seconds,
        poll_mode="thread" if settings.poll_mode == "thread" else "loop",
        poll_interval=settings.poll_interval_ms / 1000,
        spin_below=settings.poll_spin_below,
    )
