"""``/v1/jobs``: start, watch, list and cancel backfill jobs (admin keys only).

Request validation is FastAPI's (422 problem+json, each error with a JSON pointer to the
field at fault); the checks that depend on settings or the clock raise the same kind of
error, so a client sees one shape whatever was wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic_core.core_schema import ValidationInfo
from starlette.requests import HTTPConnection

from ingest.api.context import AdminCaller
from ingest.api.examples import ExampleTimes
from ingest.errors import PROBLEM
from ingest.jobs.model import Job, JobSpec
from ingest.jobs.runner import JobRunner

__all__ = ["JobRequest", "jobs_router"]

_OBJECT_ID = r"^[0-9a-fA-F]{24}$"


class JobRequest(BaseModel):
    """A backfill: one box, a closed time range, optionally another source or sensors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    box_id: str = Field(pattern=_OBJECT_ID, description="The openSenseMap box id (24 hex).")
    start: AwareDatetime = Field(alias="from", description="Oldest instant, inclusive.")
    end: AwareDatetime = Field(alias="to", description="Newest instant, inclusive.")
    source: AnyHttpUrl | None = Field(
        default=None, description="Base URL of an openSenseMap-compatible API."
    )
    sensors: list[Annotated[str, Field(pattern=_OBJECT_ID)]] | None = Field(
        default=None, min_length=1, max_length=100, description="Default: every sensor."
    )

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if isinstance(start, datetime) and end <= start:
            raise ValueError("'to' must be later than 'from'")
        return end


def _invalid(field: str, message: str, given: Any) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", field), "msg": message, "input": given}]
    )


def _within(source: str, prefix: str) -> bool:
    """``source`` is ``prefix`` or continues it at a boundary: "https://a.org" allows
    "https://a.org/v1" but not "https://a.org.evil.net"; "http://127.0.0.1:" any port."""
    if source == prefix.rstrip("/"):
        return True
    boundary = prefix if prefix.endswith(("/", ":")) else f"{prefix}/"
    return source.startswith(boundary)


async def _runner(connection: HTTPConnection) -> JobRunner:
    runner: JobRunner = connection.app.state.jobs
    return runner


Runner = Annotated[JobRunner, Depends(_runner)]
JobId = Annotated[str, PathParam(examples=["3f6c2a9e0b8d4c1fa6e57b2d9c0e1f47"])]
BOX_EXAMPLE = "57000b8745fd40c8196ad04c"


def example(times: ExampleTimes) -> dict[str, Any]:
    """A box's last day: served as the day before the request (a fixed range would age
    past what the database keeps). No ``source``: the deployment's own is valid whatever
    else it allows."""
    day_before, now = times.at(timedelta(days=-1)), times.at(timedelta())
    return {"box_id": BOX_EXAMPLE, "from": day_before, "to": now}


def _view(job: Job) -> dict[str, Any]:
    body = job.as_dict()
    for sensor in body["sensors"]:
        sensor["cursor"].pop("seen", None)  # internal: fingerprints of boundary rows
    body["links"] = {"self": f"/v1/jobs/{job.id}"}
    return body


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        s: {"content": {PROBLEM: {"schema": schema}}, "description": "problem details"}
        for s in statuses
    }


# OpenAPI links: a started job's id leads to its state and its cancellation (clients,
# and schemathesis' stateful runs, follow them).
_JOB = "#/paths/~1v1~1jobs~1{job_id}"
_LINKS = {
    "GetJob": {"operationRef": f"{_JOB}/get", "parameters": {"job_id": "$response.body#/id"}},
    "CancelJob": {
        "operationRef": f"{_JOB}/delete",
        "parameters": {"job_id": "$response.body#/id"},
    },
}


def jobs_router(times: ExampleTimes) -> APIRouter:
    router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

    @router.post(
        "",
        status_code=202,
        summary="Start a backfill job",
        description="Reads the box from the source API, then each sensor's measurements "
        "in the range, newest first, and publishes them as readings (same validation and "
        "Kafka path as live data; event ids derived from box, sensor and time, so a re-run "
        "adds nothing). 202 with the job; follow `links.self`.",
        responses={
            202: {"description": "The job, queued.", "links": _LINKS},
            **_errors(400, 401, 403, 422, 503),
        },
        openapi_extra={
            "requestBody": {"content": {"application/json": {"example": example(times)}}}
        },
    )
    async def start(
        body: JobRequest, runner: Runner, _caller: AdminCaller, response: Response
    ) -> dict[str, Any]:
        settings = runner.settings
        now = datetime.now(UTC)
        if body.end > now + timedelta(seconds=settings.max_future_skew_seconds):
            raise _invalid("to", "'to' is in the future", body.end.isoformat())
        if body.start >= now:
            raise _invalid("from", "'from' is not in the past", body.start.isoformat())
        longest = timedelta(days=settings.jobs_max_range_days)
        if body.end - body.start > longest:
            raise _invalid(
                "to",
                f"the range is longer than {settings.jobs_max_range_days:g} days; "
                "split it into several jobs",
                body.end.isoformat(),
            )
        source = str(body.source or settings.jobs_source_url).rstrip("/")
        allowed = [settings.jobs_source_url.rstrip("/"), *settings.jobs_allowed_sources]
        if not any(_within(source, prefix) for prefix in allowed):
            raise _invalid(
                "source",
                f"this source is not allowed; allowed: {', '.join(allowed)} "
                "(IOTPIPE_INGEST_JOBS_ALLOWED_SOURCES)",
                source,
            )
        spec = JobSpec(
            box_id=body.box_id.lower(),
            start=body.start.astimezone(UTC),
            # A 'to' within the clock skew allowance is read as now: openSenseMap refuses
            # a to-date in the future (422), which would fail the job for a clock's sake.
            end=min(body.end, now).astimezone(UTC),
            source=source,
            sensors=tuple(s.lower() for s in body.sensors or ()),
        )
        job = await runner.submit(spec)
        response.headers["Location"] = f"/v1/jobs/{job.id}"
        return _view(job)

    @router.get("", summary="List jobs, newest first", responses=_errors(401, 403, 503))
    async def list_jobs(runner: Runner, _caller: AdminCaller) -> dict[str, Any]:
        return {"jobs": [_view(job) for job in await runner.list()]}

    @router.get("/{job_id}", summary="A job's state", responses=_errors(401, 403, 404, 503))
    async def get_job(job_id: JobId, runner: Runner, _caller: AdminCaller) -> dict[str, Any]:
        return _view(await runner.get(job_id))

    @router.delete(
        "/{job_id}",
        summary="Cancel a job",
        description="Stops a queued or running job (state `cancelled`); what it published "
        "stays published. A finished job is returned unchanged.",
        responses=_errors(401, 403, 404, 503),
    )
    async def cancel_job(job_id: JobId, runner: Runner, _caller: AdminCaller) -> dict[str, Any]:
        return _view(await runner.cancel(job_id))

    return router
