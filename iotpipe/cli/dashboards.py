"""``iotpipe dashboards generate | queries``: Grafana dashboards and alert rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from iotpipe.cli.options import MongoUri
from iotpipe.contract.catalog import Contract
from iotpipe.endpoints import endpoint_settings, resolve_endpoints
from iotpipe.paths import REPO_DIR
from iotpipe.terminal import make_console

__all__ = ["dashboards_app"]

err = make_console(stderr=True)
dashboards_app = typer.Typer(
    help="Grafana dashboards and alert rules generated from the contract.",
    no_args_is_help=True,
)


@dashboards_app.command()
def generate(
    check: Annotated[
        bool, typer.Option("--check", help="Fail, naming the files, if grafana/ is stale.")
    ] = False,
) -> None:
    """Write grafana/dashboards/*.json and grafana/provisioning/alerting/ from the contract
    and grafana/alert-settings.yaml, and a picture of each dashboard's layout
    (docs/operations/dashboards/<uid>.svg)."""
    from iotpipe.dashboards import render  # noqa: PLC0415 - the SDK loads only here

    contract = Contract.load()
    if check:
        stale = render.check(contract)
        if stale:
            err.print(
                f"[red]grafana/ or the dashboard pictures are stale[/] ({len(stale)} files); "
                "run `iotpipe dashboards generate`"
            )
            for path in stale:
                err.print(f"  {escape(str(path.relative_to(REPO_DIR)))}")
            raise typer.Exit(1)
        err.print(
            "grafana/ dashboards, alert rules and the dashboard pictures are up to date "
            "with the contract"
        )
        return
    written = render.write(contract)
    err.print(
        f"wrote {len(written)} files" + "".join(f"\n  {p.relative_to(REPO_DIR)}" for p in written)
    )


@dashboards_app.command()
def queries(
    *,
    mongodb_uri: MongoUri = None,
    database: Annotated[str, typer.Option(help="Database the sink writes.")] = "iotpipe",
    device: Annotated[str | None, typer.Option(help="$device (default: the first known).")] = None,
    sensor: Annotated[
        str | None, typer.Option(help="$sensor (default: the device's first).")
    ] = None,
    kind: Annotated[str, typer.Option(help="$kind for the per-kind panels.")] = "TEMPERATURE",
    hours: Annotated[float, typer.Option(help="Dashboard time range: the last N hours.")] = 6.0,
) -> None:
    """Run every dashboard panel's and alert rule's MongoDB query as Grafana would, and
    report rows and missing fields (exit 1 if a panel would show nothing it should)."""
    from pymongo import MongoClient  # noqa: PLC0415

    from iotpipe.dashboards.probe import run  # noqa: PLC0415

    endpoints = resolve_endpoints(endpoint_settings(mongodb_uri=mongodb_uri))
    client: MongoClient[dict[str, Any]] = MongoClient(
        endpoints.mongodb.get_secret_value(), tz_aware=True, serverSelectionTimeoutMS=5000
    )
    db = client[database]
    status = db["device_status"]
    device = device or _first(status.find({"scope": "device"}).sort("value", 1).limit(1))
    sensor = sensor or _first(
        status.find({"scope": "sensor", "device_id": device}).sort("value", 1).limit(1)
    )
    variables = {"device": device, "sensor": sensor, "kind": kind, "silent_after": "15m"}
    outcomes = run(
        db,
        Contract.load(),
        now=datetime.now(UTC),
        variables=variables,
        default_range=timedelta(hours=hours),
    )
    table = Table("query", "rows", "problems", title=f"device={device} sensor={sensor} kind={kind}")
    for outcome in outcomes:
        problems = "; ".join(outcome.problems)
        table.add_row(
            escape(outcome.query.where),
            str(len(outcome.rows)),
            f"[red]{escape(problems)}[/]" if problems else "[green]ok[/]",
        )
    make_console().print(table)
    client.close()
    if any(o.problems for o in outcomes):
        raise typer.Exit(1)


def _first(cursor: Any) -> str:
    for document in cursor:
        return str(document["value"])
    return ""
