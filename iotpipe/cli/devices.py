"""``iotpipe devices import | list | remove``: the openSenseMap device registry.

The registry is the compacted Kafka topic ``iotpipe.devices`` (see
:mod:`iotpipe.devices.topic`); these commands write and read that topic only. A running
ingest learns of every change within about a second, the sink mirrors it into MongoDB.
Access tokens are never printed: the registry holds their SHA-256 only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from iotpipe.cli.options import KafkaServers
from iotpipe.devices.topic import DEVICES_TOPIC
from iotpipe.terminal import make_console

if TYPE_CHECKING:
    from iotpipe.devices.boxes import Box

__all__ = ["devices_app"]

out = make_console()
err = make_console(stderr=True)
devices_app = typer.Typer(
    help="The openSenseMap device registry (boxes and their sensors) that ingest follows.",
    no_args_is_help=True,
)

Topic = Annotated[
    str,
    typer.Option("--topic", help="The registry topic (compacted; `iotpipe topics ensure`)."),
]
Timeout = Annotated[float, typer.Option(help="Seconds to wait for Kafka.")]


def _servers(kafka_bootstrap_servers: str | None) -> str:
    from iotpipe.endpoints import endpoint_settings, resolve_endpoints  # noqa: PLC0415

    settings = endpoint_settings(kafka_bootstrap_servers=kafka_bootstrap_servers)
    return resolve_endpoints(settings).kafka


def _table(boxes: list[Box], title: str | None = None) -> Table:
    table = Table("name", "model", "exposure", "sensors", "auth", title=title)
    table.columns.insert(0, Column("id", no_wrap=True, min_width=24))
    for box in boxes:
        auth = "on" if box.use_auth else "off"
        table.add_row(
            box.id, escape(box.name), escape(box.model), escape(box.exposure),
            str(len(box.sensors)), auth,
        )  # fmt: skip
    return table


@devices_app.command("import")
def import_boxes(
    file: Annotated[
        Path,
        typer.Argument(
            help="Box JSON as openSenseMap gives it (GET /boxes/:id plus access_token and "
            "useAuth): one box, a list, an object with a 'boxes' list or object, or the "
            "answer of GET /users/me/boxes as saved.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    *,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show the boxes; publish nothing.")
    ] = False,
    topic: Topic = DEVICES_TOPIC,
    timeout: Timeout = 15.0,
    kafka_bootstrap_servers: KafkaServers = None,
) -> None:
    """Add or replace boxes in the registry; every box is checked before any is written.

    A box already in the registry is replaced as a whole (name, sensors, token)."""
    from iotpipe.devices.importing import parse_boxes  # noqa: PLC0415
    from iotpipe.errors import ConfigError  # noqa: PLC0415

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from exc
    boxes = parse_boxes(text, source=str(file))
    out.print(_table(boxes, title=f"{len(boxes)} box(es) in {escape(file.name)}"))
    if dry_run:
        err.print("dry run: nothing was published")
        return
    from iotpipe.devices.kafka import publish_boxes  # noqa: PLC0415

    servers = _servers(kafka_bootstrap_servers)
    publish_boxes(servers, boxes, topic=topic, timeout=timeout)
    err.print(f"published {len(boxes)} box(es) to {escape(topic)}")


@devices_app.command("list")
def list_boxes(
    *,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array (openSenseMap shape, no token hash).")
    ] = False,
    topic: Topic = DEVICES_TOPIC,
    timeout: Timeout = 15.0,
    kafka_bootstrap_servers: KafkaServers = None,
) -> None:
    """Show every box in the registry (the topic read to its end)."""
    from iotpipe.devices.kafka import read_all  # noqa: PLC0415

    boxes = read_all(_servers(kafka_bootstrap_servers), topic, timeout=timeout)
    if as_json:
        rows = []
        for box in boxes:
            row = box.as_registry()
            row.pop("access_token_sha256", None)
            rows.append({**row, "hasToken": box.token_sha256 is not None})
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    out.print(_table(boxes, title=f"{len(boxes)} box(es) in {escape(topic)}"))


@devices_app.command("remove")
def remove(
    box_id: Annotated[str, typer.Argument(help="The box's _id (24 hex characters).")],
    *,
    topic: Topic = DEVICES_TOPIC,
    timeout: Timeout = 15.0,
    kafka_bootstrap_servers: KafkaServers = None,
) -> None:
    """Remove a box from the registry (a tombstone); ingest refuses it within a second."""
    from iotpipe.devices.kafka import read_all, remove_box  # noqa: PLC0415
    from iotpipe.devices.topic import encode_removal  # noqa: PLC0415

    encode_removal(box_id)  # refuses a malformed id before Kafka is asked
    servers = _servers(kafka_bootstrap_servers)
    known = {box.id for box in read_all(servers, topic, timeout=timeout)}
    if box_id.lower() not in known:
        err.print(f"box {escape(box_id)} is not in {escape(topic)}; nothing to remove")
        raise typer.Exit(1)
    remove_box(servers, box_id, topic=topic, timeout=timeout)
    err.print(f"removed box {escape(box_id.lower())} from {escape(topic)}")
