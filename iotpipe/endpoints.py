"""Where the pipeline's services are: Kafka, the schema registry and MongoDB.

Every iotpipe command connects to the local stack that ``iotpipe stack up`` started by
default (read from its state folder), unless ``IOTPIPE_KAFKA_BOOTSTRAP_SERVERS``,
``IOTPIPE_REGISTRY_URL`` or ``IOTPIPE_MONGODB_URI`` (or the matching flags) name others.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from iotpipe.stack.settings import StackSettings, resolve_layout

__all__ = ["EndpointSettings", "Endpoints", "endpoint_settings", "resolve_endpoints"]


class Endpoints(BaseModel):
    """Resolved endpoints; ``mongodb`` may hold credentials, so it is a SecretStr."""

    kafka: str
    registry: str
    mongodb: SecretStr


class EndpointSettings(BaseSettings):
    """Explicit endpoints; anything left unset falls back to the local stack."""

    model_config = SettingsConfigDict(env_prefix="IOTPIPE_", extra="ignore")

    kafka_bootstrap_servers: str | None = None
    registry_url: str | None = None
    mongodb_uri: SecretStr | None = None


def endpoint_settings(
    *,
    kafka_bootstrap_servers: str | None = None,
    registry_url: str | None = None,
    mongodb_uri: str | SecretStr | None = None,
) -> EndpointSettings:
    """Explicit values (a service's own settings, a flag) where given, else the
    ``IOTPIPE_*`` environment. Passing None to the settings class itself would hide the
    environment, so only given values are passed on."""
    given: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka_bootstrap_servers,
        "registry_url": registry_url,
        "mongodb_uri": mongodb_uri,
    }
    return EndpointSettings.model_validate({k: v for k, v in given.items() if v is not None})


def resolve_endpoints(
    settings: EndpointSettings | None = None, stack: StackSettings | None = None
) -> Endpoints:
    settings = settings or EndpointSettings()
    local = resolve_layout(stack or StackSettings())
    return Endpoints(
        kafka=settings.kafka_bootstrap_servers or local.kafka_bootstrap,
        registry=settings.registry_url or local.registry_url,
        mongodb=settings.mongodb_uri or SecretStr(local.mongodb_uri),
    )
