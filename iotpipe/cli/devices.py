"""``iotpipe devices import | list | remove``: the openSenseMap device registry;
``retire | pause | activate | states``: device states (any device of the contract).

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
    from iotpipe.devices.states import DeviceState

__all__ = ["devices_app"]

out = make_console()
err = make_console(stderr=True)
devices_app = typer.Typer(
    help="The device registry that ingest follows: openSenseMap boxes and their sensors, "
    "and device states (paused and retired devices are not alerted on as silent).",
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


Reason = Annotated[
    str, typer.Option(help="Why (kept with the state; shown by `iotpipe devices states`).")
]
Device = Annotated[str, typer.Argument(help="The device_id (a box's _id for an openSenseMap box).")]


def _set_state(
    device_id: str,
    state: DeviceState,
    *,
    reason: str,
    topic: str,
    timeout: float,
    servers: str | None,
) -> None:
    from iotpipe.devices.kafka import publish_state  # noqa: PLC0415
    from iotpipe.devices.states import check_device_id  # noqa: PLC0415

    check_device_id(device_id)  # refuses a malformed id before Kafka is asked
    publish_state(_servers(servers), device_id, state, reason, topic=topic, timeout=timeout)
    err.print(f"device {escape(device_id)} is {state.value} (recorded on {escape(topic)})")


@devices_app.command("retire")
def retire(
    device_id: Device,
    *,
    reason: Reason = "",
    topic: Topic = DEVICES_TOPIC,
    timeout: Timeout = 15.0,
    kafka_bootstrap_servers: KafkaServers = None,
) -> None:
    """Mark a device retired (gone for good): the silent alert and the fleet dashboard's
    silent devices leave it out. Its readings, should any come, are still stored."""
    from iotpipe.devices.states import DeviceState  # noqa: PLC0415

    _set_state(
        device_id,
        DeviceState.RETIRED,
        reason=reason,
        topic=topic,
        timeout=timeout,
        servers=kafka_bootstrap_servers,
    )


@devices_app.command("pause")
def pause(
    device_id: Device,
    *,
    reason: Reason = "",
    topic: Topic = DEVICES_TOPIC,
    timeout: Timeout = 15.0,
    kafka_bootstrap_servers: KafkaServers = None,
) -> None:
    """Mark a device paused (off for a while): not alerted on as silent until
    `iotpipe devices activate` (a reading does not reactivate it)."""
    from iotpipe.devices.states import DeviceState  # noqa: PLC0415

    _set_state(
        device_id,
        DeviceState.PAUSED,
        reason=reason,
        topic=topic,
        timeout=timeout,
        servers=kafka_bootstrap_servers,
    )


@devices_app.command("activate")
def activate(
    device_id: Device,
    *,
    reason: Reason = "",
    topic: Topic = DEVICES_TOPIC,
    timeout: Timeout = 15.0,
    kafka_bootstrap_servers: KafkaServers = None,
) -> None:
    """Mark a paused or retired device active again: silent again means alerted."""
    from iotpipe.devices.states import DeviceState  # noqa: PLC0415

    _set_state(
        device_id,
        DeviceState.ACTIVE,
        reason=reason,
        topic=topic,
        timeout=timeout,
        servers=kafka_bootstrap_servers,
    )


@devices_app.command("states")
def states(
    *,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array.")] = False,
    topic: Topic = DEVICES_TOPIC,
    timeout: Timeout = 15.0,
    kafka_bootstrap_servers: KafkaServers = None,
) -> None:
    """Show every device whose state was ever set (the others are active)."""
    from iotpipe.devices.kafka import read_states  # noqa: PLC0415

    records = read_states(_servers(kafka_bootstrap_servers), topic, timeout=timeout)
    rows = [
        {
            "device_id": r.device_id,
            "state": r.state.value,
            "reason": r.reason,
            "changed_at": r.changed_at.isoformat() if r.changed_at else None,
        }
        for r in records
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table("device", "state", "since", "reason", title=f"{len(rows)} device state(s)")
    for row in rows:
        table.add_row(
            escape(str(row["device_id"])),
            str(row["state"]),
            str(row["changed_at"] or "-"),
            escape(str(row["reason"])),
        )
    out.print(table)
