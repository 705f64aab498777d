"""``iotpipe jobs start | status | list | cancel``: backfill jobs, through ingest's API.

The CLI holds no job state of its own: every command is one or more HTTP calls to a
running ingest (``--url``) with an admin key (``--key`` or IOTPIPE_ADMIN_KEY), so it
works the same against a local ingest or a deployed one.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from iotpipe.errors import IotpipeError
from iotpipe.terminal import make_console

__all__ = ["IngestRequestFailed", "jobs_app"]

out = make_console()
err = make_console(stderr=True)
jobs_app = typer.Typer(
    help="Backfill jobs: pull a box's history from an openSenseMap-compatible API.",
    no_args_is_help=True,
)
FINISHED = {"succeeded", "failed", "cancelled"}


class IngestRequestFailed(IotpipeError):
    """ingest refused the request or could not be reached."""


IngestUrl = Annotated[
    str,
    typer.Option("--url", envvar="IOTPIPE_INGEST_URL",
                 help="ingest's base URL (env IOTPIPE_INGEST_URL).")
]  # fmt: skip
AdminKey = Annotated[
    str | None,
    typer.Option("--key", envvar="IOTPIPE_ADMIN_KEY", show_default=False,
                 help="An admin API key (env IOTPIPE_ADMIN_KEY; `iotpipe keys create NAME "
                 "--admin` makes one).")
]  # fmt: skip
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
Interval = Annotated[float, typer.Option(min=0.1, help="Seconds between status polls.")]
DEFAULT_URL = "http://127.0.0.1:8000"


def _client(url: str, key: str | None) -> httpx.Client:
    """The HTTP client every command uses (tests replace it with a TestClient)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30.0)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise IngestRequestFailed(
            f"cannot reach ingest at {client.base_url} ({type(exc).__name__}); is it running? "
            "(--url or IOTPIPE_INGEST_URL)"
        ) from exc
    try:
        data: dict[str, Any] = response.json()
    except ValueError as exc:
        raise IngestRequestFailed(f"{method} {path}: HTTP {response.status_code}") from exc
    if response.status_code >= 400:
        detail = str(data.get("detail", ""))
        fields = "; ".join(
            f"{e.get('pointer', '')}: {e.get('message', '')}" for e in data.get("errors") or []
        )
        raise IngestRequestFailed(
            f"{method} {path}: HTTP {response.status_code} {detail}"
            + (f" ({fields})" if fields else "")
        )
    return data


def _summary(job: dict[str, Any]) -> None:
    totals = job["totals"]
    state = job["state"]
    colour = {"succeeded": "green", "failed": "red", "cancelled": "yellow"}.get(state, "cyan")
    out.print(
        f"job {job['id']}: [{colour}]{state}[/] box {job['box_id']} "
        f"{job['from']} .. {job['to']} from {escape(job['source'])}",
        highlight=False,
    )
    out.print(
        f"  rows read {totals['rows_read']}, published {totals['published']}, "
        f"rejected {totals['rejected']}, pages {totals['pages']}, retries {job['retries']}, "
        f"sensors {totals['sensors_done']}/{totals['sensors']}",
        highlight=False,
    )
    if job.get("reason"):
        out.print(f"  reason: {escape(job['reason'])}", highlight=False)
    for example in job["bad_rows"]["examples"][:5]:
        out.print(
            f"  bad row ({example['sensor_id']}): {escape(example['row'])}: "
            f"{escape(example['reason'])}",
            highlight=False,
        )


def _watch(client: httpx.Client, job: dict[str, Any], interval: float) -> dict[str, Any]:
    """A progress bar per sensor (share of the time range read) until the job ends."""
    path = f"/v1/jobs/{job['id']}"
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[published]} published"),
        TimeElapsedColumn(),
    )
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, console=err) as progress:
        while True:
            for sensor in job["sensors"]:
                name = sensor["sensor_id"]
                if name not in tasks:
                    label = f"{sensor['title'] or name} ({name[-6:]})"
                    tasks[name] = progress.add_task(label, total=1.0, published=0)
                progress.update(
                    tasks[name], completed=sensor["progress"], published=sensor["published"]
                )
            if job["state"] in FINISHED:
                break
            time.sleep(interval)
            job = _call(client, "GET", path)
    return job


def _finish(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(job, indent=2))
    else:
        _summary(job)
    if job["state"] in {"failed", "cancelled"}:
        raise typer.Exit(1)


@jobs_app.command()
def start(
    box_id: Annotated[str, typer.Argument(help="The openSenseMap box id (24 hex).")],
    *,
    from_: Annotated[str, typer.Option("--from", help="Oldest instant (RFC 3339, with zone).")],
    to: Annotated[str, typer.Option("--to", help="Newest instant (RFC 3339, with zone).")],
    source: Annotated[
        str | None,
        typer.Option(
            help="openSenseMap-compatible API (default: ingest's jobs_source_url).",
            show_default=False,
        ),
    ] = None,
    sensor: Annotated[
        list[str] | None, typer.Option(help="Only this sensor id (repeatable).")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Show progress until it ends.")] = False,
    interval: Interval = 1.0,
    as_json: AsJson = False,
    url: IngestUrl = DEFAULT_URL,
    key: AdminKey = None,
) -> None:
    """Start a backfill of BOX_ID's measurements between --from and --to.

    Exit 1 if, with --wait, the job fails or is cancelled."""
    body: dict[str, Any] = {"box_id": box_id, "from": from_, "to": to}
    if source:
        body["source"] = source
    if sensor:
        body["sensors"] = sensor
    with _client(url, key) as client:
        job = _call(client, "POST", "/v1/jobs", json=body)
        if not wait:
            if as_json:
                typer.echo(json.dumps(job, indent=2))
            else:
                out.print(f"job {job['id']} {job['state']}", highlight=False)
                err.print(f"follow it with: iotpipe jobs status {job['id']} --watch")
            return
        _finish(_watch(client, job, interval), as_json)


@jobs_app.command()
def status(
    job_id: Annotated[str, typer.Argument(help="The job id that start printed.")],
    *,
    watch: Annotated[bool, typer.Option("--watch", help="Progress bar until it ends.")] = False,
    interval: Interval = 1.0,
    as_json: AsJson = False,
    url: IngestUrl = DEFAULT_URL,
    key: AdminKey = None,
) -> None:
    """A job's state, counts and bad-row examples. Exit 1 if it failed or was cancelled."""
    with _client(url, key) as client:
        job = _call(client, "GET", f"/v1/jobs/{job_id}")
        if watch:
            job = _watch(client, job, interval)
    _finish(job, as_json)


@jobs_app.command("list")
def list_jobs(as_json: AsJson = False, url: IngestUrl = DEFAULT_URL, key: AdminKey = None) -> None:
    """Every job of every ingest replica (one jobs topic), newest first, with its owner."""
    with _client(url, key) as client:
        jobs = _call(client, "GET", "/v1/jobs")["jobs"]
    if as_json:
        typer.echo(json.dumps(jobs, indent=2))
        return
    table = Table("state", "owner", "box", "from", "to", "progress", "published", "rejected")
    table.add_column("job", no_wrap=True, min_width=32)  # whole, to copy into status/cancel
    for job in jobs:
        totals = job["totals"]
        table.add_row(
            job["state"],
            job["owner"],
            job["box_id"],
            job["from"],
            job["to"],
            f"{totals['progress'] * 100:.0f}%",
            str(totals["published"]),
            str(totals["rejected"]),
            job["id"],
        )
    out.print(table)


@jobs_app.command()
def cancel(
    job_id: Annotated[str, typer.Argument(help="The job to stop.")],
    url: IngestUrl = DEFAULT_URL,
    key: AdminKey = None,
) -> None:
    """Stop a queued or running job; what it published stays published."""
    with _client(url, key) as client:
        job = _call(client, "DELETE", f"/v1/jobs/{job_id}")
    out.print(f"job {job['id']} {job['state']}", highlight=False)
