"""Readiness probes: each asks its service a real question, as a client would.

Kafka: a metadata request (the broker lists itself); registry: ``GET /subjects`` on the
Confluent-compatible API; MongoDB: the ``ping`` command. Each returns None when the
service answered, or a short reason when it did not.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient
from pymongo.errors import PyMongoError

__all__ = ["probe_kafka", "probe_mongodb", "probe_registry", "quiet_admin"]

# librdkafka reports every refused connection; while a broker starts that is expected.
_quiet = logging.getLogger("iotpipe.stack.probe.kafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def quiet_admin(bootstrap: str, timeout: float) -> AdminClient:
    """An AdminClient that keeps librdkafka's connection notices to itself."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "socket.connection.setup.timeout.ms": int(timeout * 1000),
        "logger": _quiet,
        "log_level": 0,
    }
    return AdminClient(config)


def probe_kafka(bootstrap: str, timeout: float = 2.0) -> str | None:
    admin = quiet_admin(bootstrap, timeout)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - KafkaException and friends: not ready
        return f"no metadata from {bootstrap}: {exc}"
    if not metadata.brokers:
        return f"{bootstrap} answered without brokers"
    return None


def probe_registry(base_url: str, timeout: float = 2.0) -> str | None:
    try:
        response = httpx.get(f"{base_url}/subjects", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"GET {base_url}/subjects failed: {exc}"
    if response.status_code != 200:
        return f"GET {base_url}/subjects answered {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return f"GET {base_url}/subjects answered non-JSON"
    return None if isinstance(body, list) else f"GET {base_url}/subjects answered {body!r}"


def probe_mongodb(uri: str, timeout: float = 2.0) -> str | None:
    ms = int(timeout * 1000)
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        reply = client.admin.command("ping")
    except PyMongoError as exc:
        return f"ping {uri} failed: {exc.__class__.__name__}"
    finally:
        client.close()
    return None if reply.get("ok") == 1 else f"ping {uri} answered {reply!r}"
