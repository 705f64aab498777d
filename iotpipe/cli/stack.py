"""``iotpipe stack up | down | status | logs``: the local stack without Docker."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iotpipe.stack.manager import Stack, StackStatus
from iotpipe.stack.settings import SERVICES, ServiceName, StackSettings

__all__ = ["stack_app"]

stack_app = typer.Typer(
    help="Run Kafka, the schema registry and FerretDB locally as processes (no Docker).",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)


class Service(StrEnum):
    kafka = "kafka"
    registry = "registry"
    mongodb = "mongodb"


Services = Annotated[
    list[Service] | None,
    typer.Argument(help="Services to act on (default: all of kafka, registry, mongodb)."),
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


def _stack(state_dir: Path | None, **ports: int | None) -> Stack:
    given: dict[str, Any] = {k: v for k, v in ports.items() if v is not None}
    if state_dir is not None:
        given["state_dir"] = state_dir
    return Stack(StackSettings(**given), console=err)


def _names(services: list[Service] | None) -> list[ServiceName]:
    chosen = {s.value for s in services or []}
    return [name for name in SERVICES if not chosen or name in chosen]


def _show(status: StackStatus) -> None:
    table = Table(title=f"local stack ({status.state_dir})", title_justify="left")
    for column in ("service", "state", "pid", "endpoint"):
        table.add_column(column)
    for s in status.services:
        state = "[green]healthy[/]" if s.healthy else f"[red]{s.problem}[/]"
        table.add_row(s.name, state, str(s.pid or "-"), s.endpoint)
    out.print(table)


@stack_app.command()
def up(
    services: Services = None,
    state_dir: StateDir = None,
    kafka_port: Annotated[
        int | None, typer.Option(help="Kafka broker port; the KRaft controller uses +1.")
    ] = None,
    registry_port: Annotated[
        int | None, typer.Option(help="Registry HTTP port; its management port uses +1.")
    ] = None,
    mongodb_port: Annotated[int | None, typer.Option(help="FerretDB (MongoDB) port.")] = None,
) -> None:
    """Start the stack (or the named services); reuse what already runs; wait until healthy."""
    stack = _stack(
        state_dir, kafka_port=kafka_port, registry_port=registry_port, mongodb_port=mongodb_port
    )
    began = time.monotonic()
    status = stack.up(_names(services))
    _show(status)
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
    current = _stack(state_dir).status()
    if as_json:
        typer.echo(json.dumps(current.endpoints()))
    else:
        _show(current)
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
    paths = {name: stack.log_path(name) for name in _names(services)}
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
