"""Command-line options shared by several iotpipe commands."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["KafkaServers", "MongoUri", "RegistryUrl"]

KafkaServers = Annotated[
    str | None,
    typer.Option("--kafka-bootstrap-servers",
                 help="Kafka (env IOTPIPE_KAFKA_BOOTSTRAP_SERVERS; default: the local stack).",
                 show_default=False),
]  # fmt: skip
RegistryUrl = Annotated[
    str | None,
    typer.Option("--registry-url",
                 help="Confluent-compatible registry URL (env IOTPIPE_REGISTRY_URL; default: "
                 "the local stack's).", show_default=False),
]  # fmt: skip
MongoUri = Annotated[
    str | None,
    typer.Option("--mongodb-uri",
                 help="MongoDB URI (env IOTPIPE_MONGODB_URI; default: the local stack's).",
                 show_default=False),
]  # fmt: skip
