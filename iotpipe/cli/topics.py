"""``iotpipe topics ensure | list``: the pipeline's Kafka topics, made and shown."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from iotpipe.cli.options import KafkaServers
from iotpipe.contract.catalog import TOPIC
from iotpipe.devices.topic import DEVICES_TOPIC
from iotpipe.terminal import make_console
from iotpipe.topics import (
    DEFAULT_PARTITIONS,
    DEFAULT_RETENTION_HOURS,
    JOBS_TOPIC,
    TopicState,
    dlq_name,
)

__all__ = ["topics_app"]

out = make_console()
err = make_console(stderr=True)
topics_app = typer.Typer(
    help="Create and inspect the pipeline's Kafka topics (sensor-data and its dead letters).",
    no_args_is_help=True,
)

Topic = Annotated[
    str,
    typer.Option("--topic", help="The main topic; its dead-letter topic is <topic>.dlq."),
]


def _admin(kafka_bootstrap_servers: str | None, timeout: float):  # type: ignore[no-untyped-def]
    from iotpipe.endpoints import EndpointSettings, resolve_endpoints  # noqa: PLC0415
    from iotpipe.kafka_admin import KafkaTopicAdmin  # noqa: PLC0415 - keep --help fast

    servers = kafka_bootstrap_servers or resolve_endpoints(EndpointSettings()).kafka
    return KafkaTopicAdmin(servers, timeout=timeout)


@topics_app.command()
def ensure(
    *,
    partitions: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="IOTPIPE_TOPICS_PARTITIONS",
            help="Partitions at least (the most sink members that share work).",
        ),
    ] = DEFAULT_PARTITIONS,
    replication_factor: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="IOTPIPE_TOPICS_REPLICATION_FACTOR",
            help="Copies of each partition (at most the broker count).",
        ),
    ] = 1,
    min_insync_replicas: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="IOTPIPE_TOPICS_MIN_INSYNC_REPLICAS",
            help="Replicas that must have a write before acks=all succeeds.",
        ),
    ] = 1,
    retention_hours: Annotated[
        float, typer.Option(help="How long records are kept.")
    ] = DEFAULT_RETENTION_HOURS,
    topic: Topic = TOPIC,
    devices_topic: Annotated[
        str, typer.Option(help="The device registry topic (compacted, one partition).")
    ] = DEVICES_TOPIC,
    jobs_topic: Annotated[
        str, typer.Option(help="ingest's backfill job state (compacted, one partition).")
    ] = JOBS_TOPIC,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each Kafka request.")] = 15.0,
    kafka_bootstrap_servers: KafkaServers = None,
) -> None:
    """Create sensor-data, its dead-letter topic and the device registry topic, or bring
    them to these settings (compose's cluster passes them in compose/kafka-cluster.env).

    Idempotent: missing topics are created, partitions grow, differing configs are set.
    Exit 1 if something cannot be made as asked (e.g. another replication factor)."""
    from iotpipe.topics import (  # noqa: PLC0415
        devices_topic_spec,
        ensure_topics,
        jobs_topic_spec,
        pipeline_topics,
    )

    specs = pipeline_topics(
        topic=topic,
        partitions=partitions,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
        retention_hours=retention_hours,
    )
    registry = devices_topic_spec(
        topic=devices_topic,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
    )
    admin = _admin(kafka_bootstrap_servers, timeout)
    jobs = jobs_topic_spec(
        topic=jobs_topic,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
    )
    report = ensure_topics(admin, [*specs, registry, jobs])
    for line in report.done:
        out.print(escape(line), highlight=False)
    for line in report.problems:
        err.print(f"[red]not as asked:[/] {escape(line)}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _row(state: TopicState) -> dict[str, object]:
    retention = state.configs.get("retention.ms")
    hours = int(retention) / 3_600_000 if retention not in (None, "-1") else None
    return {
        "name": state.name,
        "partitions": state.partitions,
        "replication_factor": state.replication_factor,
        "min_insync_replicas": state.configs.get("min.insync.replicas"),
        "retention_hours": hours,
        "cleanup_policy": state.configs.get("cleanup.policy"),
    }


@topics_app.command("list")
def list_topics(
    *,
    topic: Topic = TOPIC,
    all_topics: Annotated[
        bool, typer.Option("--all", help="Every topic except Kafka's internal ones.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array instead of a table.")] = (
        False
    ),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each Kafka request.")] = 15.0,
    kafka_bootstrap_servers: KafkaServers = None,
) -> None:
    """Show partitions, replication and managed configs of the pipeline's topics.

    By default sensor-data and its dead-letter topic (exit 1 if one is missing)."""
    admin = _admin(kafka_bootstrap_servers, timeout)
    if all_topics:
        names = [n for n in admin.list_names() if not n.startswith("__")]
    else:
        names = [topic, dlq_name(topic)]
    states = admin.describe(names)
    rows = [_row(states[name]) for name in names if name in states]
    missing = [name for name in names if name not in states]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        table = Table("topic", "partitions", "replication", "min.insync", "retention", "cleanup")
        for row in rows:
            hours = row["retention_hours"]
            table.add_row(
                str(row["name"]),
                str(row["partitions"]),
                str(row["replication_factor"]),
                str(row["min_insync_replicas"] or "-"),
                "forever" if hours is None else f"{hours:g} h",
                str(row["cleanup_policy"] or "-"),
            )
        out.print(table)
    for name in missing:
        err.print(f"{escape(name)}: does not exist (`iotpipe topics ensure` creates it)")
    if missing:
        raise typer.Exit(1)
