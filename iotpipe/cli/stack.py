"""``iotpipe stack up | down | status | logs``: the local stack without Docker."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from iotpipe.stack.manager import Stack, StackStatus
from iotpipe.stack.settings import MAX_BROKERS, SERVICES, StackSettings
from iotpipe.terminal import make_console

__all__ = ["stack_app"]

stack_app = typer.Typer(
    help="Run Kafka, the schema registry and FerretDB locally as processes (no Docker).",
    no_args_is_help=True,
)
out = make_console()
err = make_console(stderr=True)


Services = Annotated[
    list[str] | None,
    typer.Argument(
        help="Services to act on: kafka (every Kafka node), kafka-<id> (one node of a "
        "cluster), registry, mongodb (default: all).",
        show_default=False,
    ),
]
StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Folder holding the stack's data, logs and pids (env IOTPIPE_STATE_DIR; "
        "default ~/.local/state/iotpipe/stack).",
        show_default=False,
    ),
]


def _stack(state_dir: Path | None, **ports: int | None) -> Stack:  # ports and brokers
    given: dict[str, Any] = {k: v for k, v in ports.items() if v is not None}
    if state_dir is not None:
        given["state_dir"] = state_dir
    return Stack(StackSettings(**given), console=err)


def _names(services: list[str] | None) -> list[str]:
    return list(services) if services else list(SERVICES)


def _show(status: StackStatus, stack: Stack | None = None) -> None:
    cluster = stack.cluster() if stack is not None else None
    controller = None
    if cluster is not None:
        nodes = {node.node_id: node.name for node in status.layout.kafka_nodes}
        controller = nodes.get(cluster.controller) if cluster.controller is not None else None
    table = Table(title=f"local stack ({status.state_dir})", title_justify="left")
    for column in ("service", "state", "pid", "endpoint"):
        table.add_column(column)
    for s in status.services:
        state = "[green]healthy[/]" if s.healthy else f"[red]{escape(s.problem or '')}[/]"
        name = f"{s.name} (controller)" if s.name == controller else s.name
        table.add_row(name, state, str(s.pid or "-"), s.endpoint)
    out.print(table)
    if cluster is not None:
        colour = "green" if cluster.healthy else "red"
        out.print(f"[{colour}]{escape(cluster.summary())}[/]", highlight=False)
        shown = cluster.under_replicated[:10]
        if shown:
            listed = ", ".join(f"{topic}/{number}" for topic, number in shown)
            more = len(cluster.under_replicated) - len(shown)
            out.print(f"under-replicated: {escape(listed)}" + (f" and {more} more" if more else ""))


@stack_app.command()
def up(
    services: Services = None,
    *,
    state_dir: StateDir = None,
    kafka_port: Annotated[
        int | None, typer.Option(help="Kafka broker port; the KRaft controller uses +1.")
    ] = None,
    registry_port: Annotated[
        int | None, typer.Option(help="Registry HTTP port; its management port uses +1.")
    ] = None,
    mongodb_port: Annotated[int | None, typer.Option(help="FerretDB (MongoDB) port.")] = None,
    brokers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_BROKERS,
            help="Kafka nodes (env IOTPIPE_BROKERS; default 1, or what this state folder "
            "last ran with). Node i listens on the Kafka port + 2(i-1); topics get the "
            "replication of compose/kafka-cluster.env (3 nodes: factor 3, min.insync 2).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start the stack (or the named services); reuse what already runs; wait until healthy.

    Then make it ready for every command, whether started or reused: with Kafka, the
    pipeline's topics (sensor-data, its DLQ, the device registry and jobs topics) as
    compose/kafka-cluster.env says for this many brokers; with the registry, the contract
    registered (as `iotpipe schemas push`). Idempotent: on a ready stack it changes nothing."""
    stack = _stack(
        state_dir,
        kafka_port=kafka_port,
        registry_port=registry_port,
        mongodb_port=mongodb_port,
        brokers=brokers,
    )
    began = time.monotonic()
    status = stack.up(_names(services))
    _show(status, stack)
    err.print(f"up in {time.monotonic() - began:.1f}s; `iotpipe stack down` stops it.")


@stack_app.command()
def down(
    services: Services = None,
    state_dir: StateDir = None,
    wipe: Annotated[bool, typer.Option("--wipe", help="Also delete data and logs.")] = False,
) -> None:
    """Stop the processes the stack started (by pid). Data stays unless --wipe."""
    stopped = _stack(state_dir).down(_names(services), wipe=wipe)
    err.print(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@stack_app.command()
def status(
    state_dir: StateDir = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the endpoints as one JSON object.")
    ] = False,
) -> None:
    """Show each service's state; exit 3 unless every service is healthy."""
    stack = _stack(state_dir)
    current = stack.status()
    if as_json:
        typer.echo(json.dumps(current.endpoints()))
    else:
        _show(current, stack if any(s.running for s in current.services) else None)
    if not current.healthy:
        raise typer.Exit(3)


@stack_app.command()
def logs(
    services: Services = None,
    state_dir: StateDir = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines from each log's end.")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
) -> None:
    """Print the end of the services' logs (and follow them with -f)."""
    stack = _stack(state_dir)
    paths = {name: stack.log_path(name) for name in stack.layout().expand(_names(services))}
    offsets: dict[str, int] = {}
    for name, path in paths.items():
        text = path.read_text(errors="replace") if path.exists() else ""
        offsets[name] = len(text.encode())
        out.rule(f"{name}: {path}")
        for line in text.splitlines()[-lines:]:
            out.print(f"[dim]{name}[/] {escape(line)}", highlight=False)
    while follow:
        time.sleep(0.5)
        for name, path in paths.items():
            if not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(offsets[name])
                chunk = handle.read()
            offsets[name] += len(chunk)
            for line in chunk.decode(errors="replace").splitlines():
                out.print(f"[dim]{name}[/] {escape(line)}", highlight=False)
