"""The ``iotpipe`` command line: every operation hangs from this one Typer app.

Errors derived from :class:`~iotpipe.errors.IotpipeError` are printed as one readable
message (no traceback) with their exit code; ``IOTPIPE_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.markup import escape

from iotpipe.cli.bench import bench
from iotpipe.cli.chaos import chaos
from iotpipe.cli.contract import codegen, schemas_app
from iotpipe.cli.dashboards import dashboards_app
from iotpipe.cli.devices import devices_app
from iotpipe.cli.ingest import ingest, keys_app
from iotpipe.cli.jobs import jobs_app
from iotpipe.cli.sink import db_app, dlq_app, sink
from iotpipe.cli.soak import soak
from iotpipe.cli.stack import stack_app
from iotpipe.cli.topics import topics_app
from iotpipe.errors import IotpipeError
from iotpipe.terminal import make_console

__all__ = ["app", "main"]

app = typer.Typer(
    name="iotpipe",
    help="Contract-first IoT data pipeline: HTTP/WebSocket -> Avro on Kafka -> MongoDB.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
    add_completion=False,
)
app.add_typer(stack_app, name="stack")
app.add_typer(schemas_app, name="schemas")
app.add_typer(keys_app, name="keys")
app.command()(codegen)
app.command()(ingest)
app.command()(sink)
app.command()(bench)
app.command()(chaos)
app.command()(soak)
app.add_typer(dlq_app, name="dlq")
app.add_typer(db_app, name="db")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(topics_app, name="topics")
app.add_typer(devices_app, name="devices")
app.add_typer(jobs_app, name="jobs")


@app.command()
def demo(
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
    devices: Annotated[int, typer.Option(help="Simulated devices.")] = 12,
    interval: Annotated[float, typer.Option(help="Seconds between a device's posts.")] = 0.5,
) -> None:
    """The whole pipeline on the local stack with a simulated fleet and a live view."""
    from iotpipe.demo.run import run_demo  # noqa: PLC0415

    raise typer.Exit(run_demo(duration=duration, devices=devices, interval=interval))


def main() -> None:
    try:
        app()
    except IotpipeError as exc:
        if os.environ.get("IOTPIPE_DEBUG"):
            raise
        make_console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}")
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
