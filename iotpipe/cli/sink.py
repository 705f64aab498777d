"""``iotpipe sink``, ``iotpipe dlq list | replay`` and ``iotpipe db setup``."""

from __future__ import annotations

import logging
import secrets
import uuid
from typing import Annotated, Any

import typer
from rich.table import Table

from iotpipe.cli.options import KafkaServers, MongoUri, RegistryUrl
from iotpipe.terminal import make_console

__all__ = ["db_app", "dlq_app", "sink"]

out = make_console()
err = make_console(stderr=True)
dlq_app = typer.Typer(help="Inspect and re-drive the dead-letter topic.", no_args_is_help=True)
db_app = typer.Typer(help="Database administration.", no_args_is_help=True)


def sink(
    group_id: Annotated[
        str | None, typer.Option(help="Consumer group (default: iotpipe-sink).")
    ] = None,
    health_port: Annotated[
        int | None, typer.Option(help="/healthz port (default: 9108); 0: off.")
    ] = None,
    kafka_bootstrap_servers: KafkaServers = None,
    registry_url: RegistryUrl = None,
    mongodb_uri: MongoUri = None,
) -> None:
    """Consume sensor-data into MongoDB (one member of the group; run several to scale)."""
    from sink.main import run  # noqa: PLC0415
    from sink.settings import SinkSettings  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from iotpipe.redact import redact_logs  # noqa: PLC0415

    redact_logs()  # URIs with passwords, keys: never in the sink's logs
    flags: dict[str, Any] = {
        "group_id": group_id,
        "health_port": health_port,
        "kafka_bootstrap_servers": kafka_bootstrap_servers,
        "registry_url": registry_url,
        "mongodb_uri": mongodb_uri,
    }
    raise typer.Exit(run(SinkSettings(**{k: v for k, v in flags.items() if v is not None})))


def _dead_letters(limit: int) -> list[Any]:
    from confluent_kafka import Consumer, TopicPartition  # noqa: PLC0415

    from iotpipe.endpoints import resolve_endpoints  # noqa: PLC0415
    from sink.settings import SinkSettings  # noqa: PLC0415

    settings = SinkSettings()
    kafka = settings.kafka_bootstrap_servers or resolve_endpoints().kafka
    consumer = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": f"dlq-read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(settings.dlq_topic, timeout=10)
        topic = metadata.topics.get(settings.dlq_topic)
        partitions = list(topic.partitions) if topic is not None else []
        assigned, ends = [], {}
        for number in partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(settings.dlq_topic, number), timeout=10
            )
            if high > low:
                assigned.append(TopicPartition(settings.dlq_topic, number, low))
                ends[number] = high
        consumer.assign(assigned)
        letters: list[Any] = []
        while ends and len(letters) < limit:
            message = consumer.poll(2.0)
            if message is None:
                break
            if message.error() is None:
                letters.append(message)
                if (message.offset() or 0) + 1 >= ends.get(message.partition() or 0, 0):
                    ends.pop(message.partition() or 0, None)
        return letters
    finally:
        consumer.close()


@dlq_app.command("list")
def list_dead_letters(limit: Annotated[int, typer.Option(help="At most this many.")] = 100) -> None:
    """Show dead letters: where they came from and why."""
    table = Table("dlq offset", "source", "reason", "attempts", "time", "error")
    for message in _dead_letters(limit):
        h = {k: (v or b"").decode(errors="replace") for k, v in message.headers() or []}
        table.add_row(
            f"{message.partition()}:{message.offset()}",
            f"{h.get('iotpipe-dlq-source-topic')}:{h.get('iotpipe-dlq-source-partition')}"
            f":{h.get('iotpipe-dlq-source-offset')}",
            h.get("iotpipe-dlq-reason", "?"),
            h.get("iotpipe-dlq-attempts", "?"),
            h.get("iotpipe-dlq-time", "?")[:19],
            h.get("iotpipe-dlq-error-message", "")[:80],
        )
    out.print(table)


@dlq_app.command("replay")
def replay(
    force: Annotated[bool, typer.Option("--force", help="Re-drive all, decodable or not.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100_000,
) -> None:
    """Re-drive dead letters into the main topic: those that now decode (or all with --force).

    Safe to repeat: the sink stores each event_id once."""
    from confluent_kafka import Producer  # noqa: PLC0415
    from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: PLC0415

    from iotpipe.contract.catalog import Contract  # noqa: PLC0415
    from iotpipe.contract.serde import ContractSerde  # noqa: PLC0415
    from iotpipe.endpoints import resolve_endpoints  # noqa: PLC0415
    from iotpipe.errors import DecodeError  # noqa: PLC0415
    from sink.dlq import REPLAY_ATTEMPTS, original_headers  # noqa: PLC0415
    from sink.settings import SinkSettings  # noqa: PLC0415

    settings = SinkSettings()
    endpoints = resolve_endpoints()
    serde = ContractSerde(SchemaRegistryClient({"url": endpoints.registry}), Contract.load())
    producer = Producer(
        {"bootstrap.servers": endpoints.kafka, "acks": "all", "enable.idempotence": True}
    )
    sent = skipped = 0
    for message in _dead_letters(limit):
        headers = list(message.headers() or [])
        kept = [(k, v) for k, v in original_headers(headers) if k != REPLAY_ATTEMPTS]
        attempts = dict(headers).get("iotpipe-dlq-attempts", b"1") or b"1"
        try:
            serde.decode(message.value(), kept, settings.topic)
        except DecodeError:
            if not force:
                skipped += 1
                continue
        producer.produce(
            settings.topic,
            key=message.key(),
            value=message.value(),
            headers=[*kept, (REPLAY_ATTEMPTS, attempts)],
        )
        sent += 1
    if producer.flush(30):
        raise typer.Exit(1)
    err.print(
        f"replayed {sent} dead letters into {settings.topic}; "
        f"{skipped} still do not decode (use --force to send them anyway)"
    )


@db_app.command("setup")
def setup(
    sink_password: Annotated[
        str | None, typer.Option(envvar="IOTPIPE_DB_SINK_PASSWORD", help="Default: generated.")
    ] = None,
    grafana_password: Annotated[
        str | None, typer.Option(envvar="IOTPIPE_DB_GRAFANA_PASSWORD", help="Default: generated.")
    ] = None,
) -> None:
    """Create the sink's read-write and Grafana's read-only users (where roles exist)."""
    from pymongo import MongoClient  # noqa: PLC0415

    from iotpipe.endpoints import resolve_endpoints  # noqa: PLC0415
    from sink.settings import SinkSettings  # noqa: PLC0415
    from sink.users import setup_users  # noqa: PLC0415

    settings = SinkSettings()
    uri = (settings.mongodb_uri or resolve_endpoints().mongodb).get_secret_value()
    passwords = {
        "sink": sink_password or secrets.token_urlsafe(18),
        "grafana": grafana_password or secrets.token_urlsafe(18),
    }
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    for report in setup_users(client, settings.database, passwords["sink"], passwords["grafana"]):
        typer.echo(f"{report.user}: {report.outcome}")
    if not sink_password or not grafana_password:
        err.print("generated passwords (shown once):")
        for who, password in passwords.items():
            typer.echo(f"{who}: {password}")


@db_app.command("rebuild-rollups")
def rebuild_rollups(
    since_minutes: Annotated[float, typer.Option(help="Rebuild this far back.")] = 60.0,
) -> None:
    """Recompute minute rollups exactly from the stored readings (e.g. after a sink crash
    between storing a batch and counting it)."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from iotpipe.endpoints import resolve_endpoints  # noqa: PLC0415
    from sink.settings import SinkSettings  # noqa: PLC0415
    from sink.store.mongo import MongoStore  # noqa: PLC0415

    settings = SinkSettings()
    uri = (settings.mongodb_uri or resolve_endpoints().mongodb).get_secret_value()
    store = MongoStore.connect(uri, settings.database, timedelta(days=settings.retention_days))
    try:
        since = datetime.now(UTC) - timedelta(minutes=since_minutes)
        err.print(f"rebuilt {store.rebuild_rollups(since)} minute rollups since {since:%H:%M}Z")
    finally:
        store.close()
