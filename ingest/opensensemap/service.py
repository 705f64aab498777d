"""An openSenseMap upload as a domain operation: which box, may it post, what did it send,
publish it all or nothing.

Knows no HTTP: the routes (``api``) pass plain values in, ``OsemError`` comes out and
``ingest.errors`` maps it. The check orders are upstream's. Bulk
(``http_semantics.json`` ``auth.check_order_bulk``): boxId 422 -> content type 415 ->
box 404 -> token 401, decided by :meth:`OsemService.open_bulk` before the body is read
(an unauthenticated client cannot make ingest buffer it), then :meth:`OsemService.save`
reads the flags a JSON body may carry (upstream reads ``luftdaten``/``hackair`` from the
body too; a body-flagged hackAIR upload must then show the box's token: 401), and
decodes (422 / 400). Single (``single_measurement.json`` rules): 415 -> boxId 422
(:meth:`OsemService.check_single`), then the body's parameters, box, token, measurement
rules and sensor (:meth:`OsemService.save_single`). Then every reading is validated
against the contract and published; a request is all-or-nothing, as upstream: one
invalid reading refuses the whole request and nothing is published.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from pydantic import BaseModel

from ingest.domain.accept import Policy
from ingest.domain.service import IngestService, RecordResult
from ingest.opensensemap.decoding import (
    Query,
    bulk_format,
    check_id_param,
    complete_single,
    decode_bulk,
    parse_single,
)
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.measurements import Measurement
from ingest.opensensemap.readings import to_readings
from iotpipe.devices.boxes import Box, BoxDirectory

__all__ = ["SAVED_BULK", "SAVED_SINGLE", "OsemService", "Upload", "is_json"]

SAVED_BULK = "Measurements saved in box"
SAVED_SINGLE = "Measurement saved in box"
UNSUPPORTED_SINGLE = "Unsupported content-type. Try application/json"

# openSenseMap has no past limit and refuses createdAt more than a minute ahead; the
# decoders enforce the minute against the receive time, this policy only keeps ingest's
# default late-data limits (7 days old, 5 minutes ahead) off these routes.
OSEM_POLICY = Policy(max_future_skew=timedelta(minutes=1), max_age=None)


def is_json(content_type: str | None) -> bool:
    """restify's ``req.is("json")``: application/json or any ``+json`` type."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media in ("application/json", "json") or (
        media.startswith("application/") and media.endswith("+json")
    )


@dataclass(frozen=True)
class Upload:
    """A bulk upload that passed the id, media type, box and token checks."""

    box: Box
    fmt: str  # "csv", "json", "sbx-bytes", "sbx-bytes-ts", "luftdaten", "hackair"
    content_type: str | None = None
    query: Query = field(default_factory=dict)
    tokens: Sequence[str | None] = ()


class OsemService:
    def __init__(
        self,
        *,
        boxes: BoxDirectory,
        ingest: IngestService,
        model: type[BaseModel],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._boxes = boxes
        self._ingest = ingest
        self._model = model
        self._clock = clock

    def open_bulk(
        self,
        box_id: str,
        *,
        content_type: str | None,
        query: Query,
        tokens: Sequence[str | None],
    ) -> Upload:
        """``POST /boxes/:boxId/data`` up to the body: 422 id, 415 type, 404 box, 401."""
        self._counted(check_id_param, "boxId", box_id)
        fmt = self._counted(bulk_format, content_type, query)
        box = self._box(box_id, tokens, hackair=fmt == "hackair")
        return Upload(box, fmt, content_type, query, tokens)

    def check_single(self, box_id: str, *, content_type: str | None) -> None:
        """``POST /boxes/:boxId/:sensorId`` before its body: 415 (JSON only), 422 boxId."""
        if not is_json(content_type):
            self._refuse(OsemError(415, "UnsupportedMediaType", UNSUPPORTED_SINGLE))
        self._counted(check_id_param, "boxId", box_id)

    async def save(self, upload: Upload, body: bytes, *, trace: str) -> int:
        """Decode, validate against the contract, publish all or nothing; the count saved."""
        received_at = self._clock()
        fmt = self._counted(bulk_format, upload.content_type, upload.query, body)
        if fmt == "hackair" and upload.fmt != "hackair":  # flagged in the body only
            self._check_token(upload.box, upload.tokens, hackair=True)
        measurements = self._counted(decode_bulk, fmt, body, upload.box, received_at=received_at)
        return await self._publish(upload.box, measurements, trace=trace)

    async def save_single(
        self,
        box_id: str,
        sensor_id: str,
        body: bytes,
        *,
        content_type: str | None,
        query: Query,
        tokens: Sequence[str | None],
        trace: str,
    ) -> None:
        """Upstream's order after :meth:`check_single`: the parameters (415/400/422), box
        404, token 401, then the measurement rules (422) and the sensor (404)."""
        request = self._counted(parse_single, body, content_type, sensor_id, query=query)
        box = self._box(box_id, tokens, hackair=False)
        measurement = self._counted(complete_single, request, box, received_at=self._clock())
        await self._publish(box, [measurement], trace=trace)

    async def _publish(self, box: Box, measurements: list[Measurement], *, trace: str) -> int:
        readings = self._readings(box, measurements)
        results = await self._ingest.submit(
            readings, self._model, devices=None, trace=trace, policy=OSEM_POLICY, atomic=True
        )
        self._raise_for(results, box, measurements)
        return len(readings)

    # -- checks -----------------------------------------------------------------------

    def _box(self, box_id: str, tokens: Sequence[str | None], *, hackair: bool) -> Box:
        box = self._boxes.get(box_id.strip())
        if box is None:
            self._refuse(OsemError.not_found("Box not found"))
        self._check_token(box, tokens, hackair=hackair)
        return box

    def _check_token(self, box: Box, tokens: Sequence[str | None], *, hackair: bool) -> None:
        if box.requires_token(hackair=hackair) and not any(
            box.token_matches(t) for t in tokens if t is not None
        ):
            self._refuse(OsemError.unauthorized())

    def _readings(self, box: Box, measurements: Iterable[Measurement]) -> list[dict[str, Any]]:
        """Contract readings of measurements the decoders matched to the box's sensors."""
        try:
            return to_readings(box, measurements)
        except KeyError as exc:  # the decoders already refuse these (400 / 404)
            self._refuse(
                OsemError.bad_request(
                    f"Measurement for sensor with id {exc.args[0]} does not belong to box"
                )
            )
        except (ValueError, OverflowError) as exc:  # a value float() cannot take
            self._refuse(OsemError.unprocessable(f"Invalid value: {exc}"))

    def _raise_for(
        self, results: list[RecordResult], box: Box, measurements: list[Measurement]
    ) -> None:
        failed = [r for r in results if r.status == "failed" and r.failure is not None]
        if failed:
            retry = max(r.failure.retry_after for r in failed if r.failure is not None)
            backpressure = any(r.failure and r.failure.reason == "queue_full" for r in failed)
            raise OsemError.unavailable(
                f"{len(failed)} of {len(results)} measurements could not be stored now; "
                f"send the request again in {retry} s",
                retry,
                backpressure=backpressure,
            )
        refused = [
            r for r in results if r.status == "rejected" and r.errors[0].code != "batch_rejected"
        ]
        if refused:
            raise OsemError.unprocessable(_contract_message(refused, box, measurements))

    def _counted(self, step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a decoder step; count its refusal like any other rejected reading."""
        try:
            return step(*args, **kwargs)
        except OsemError as exc:
            self._refuse(exc)

    def _refuse(self, error: OsemError) -> NoReturn:
        self._ingest.metrics.rejected("SensorReading", f"opensensemap_{error.code}")
        raise error


def _contract_message(
    refused: list[RecordResult], box: Box, measurements: list[Measurement]
) -> str:
    """Which sensor's measurement broke which rule of the contract, and what it expected."""
    first = refused[0]
    measurement = measurements[first.index]
    sensor = box.sensor(measurement.sensor_id)
    title, unit = (sensor.title, sensor.unit) if sensor is not None else ("", "")
    what = "; ".join(f"{e.pointer or '/'}: {e.message}" for e in first.errors)
    message = (
        f"Measurement for sensor {measurement.sensor_id} ({title}) does not fit the "
        f"reading contract: {what} (value {measurement.value}, unit {unit!r})"
    )
    if len(refused) > 1:
        message += f"; {len(refused) - 1} more measurement(s) refused"
    return message
