"""openSenseMap's body formats and measurement rules, as pure functions.

A faithful port of upstream's decoders (openSenseMap-API v1 at 953c476,
``packages/models/src/measurement/decoding``): the same measurements, stored values and
status/code/message for every conformance vector, except the documented upstream quirks
(fractions of a second are parsed as RFC 3339 fractions; a bad ``sbx-bytes-ts`` length
is 422, not 500). Knows no HTTP: callers pass the content type, query and body; errors
are :class:`~ingest.opensensemap.errors.OsemError`.

Bulk (``POST /boxes/:boxId/data``), upstream's check order: boxId syntax (route,
:func:`check_id_param`) -> :func:`bulk_format` (422 empty flag, 415) -> box 404 and
token 401 (route) -> :func:`decode_bulk` (422 decode/validate, then 400 foreign sensor).
Single (``POST /boxes/:boxId/:sensorId``): see :mod:`.single`.

The ``luftdaten`` / ``hackair`` flags are read where upstream's ``retrieveParameters``
reads them (``userParamHelpers.extractParam``): a key of the parsed JSON body
(``application/json`` or ``+json`` bodies that are objects), overridden by the query
string. A string flag with ANY non-empty value (even "false") selects its decoder, as
upstream: a drop-in target must accept what upstream accepts. A JSON ``false``, ``0`` or
``null`` is no flag (JS ``stringParser`` keeps falsy values and the controller tests
truthiness); ``true``, a number or an object is one. See :func:`bulk_flags`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from ingest.opensensemap.decoding._js import loads, to_number, to_string, trim
from ingest.opensensemap.decoding.csv_body import decode_csv
from ingest.opensensemap.decoding.hackair import decode_hackair
from ingest.opensensemap.decoding.json_body import decode_json
from ingest.opensensemap.decoding.luftdaten import decode_luftdaten
from ingest.opensensemap.decoding.sbx_bytes import decode_sbx_bytes, decode_sbx_bytes_ts
from ingest.opensensemap.decoding.single import (
    SingleRequest,
    check_id_param,
    complete_single,
    parse_single,
)
from ingest.opensensemap.decoding.validators import (
    MAX_MEASUREMENTS,
    to_measurements,
    valid_object_id,
    validate_measurements,
)
from ingest.opensensemap.errors import OsemError
from ingest.opensensemap.measurements import Measurement
from iotpipe.devices.boxes import Box

__all__ = [
    "BULK_FORMATS",
    "FLAGS",
    "INVALID_BOX_ID_MESSAGE",
    "MAX_MEASUREMENTS",
    "Query",
    "SingleRequest",
    "bulk_flags",
    "bulk_format",
    "check_id_param",
    "complete_single",
    "decode_bulk",
    "decode_single",
    "is_json_media",
    "numeric_value",
    "parse_single",
    "query_of",
    "valid_object_id",
]

INVALID_BOX_ID_MESSAGE: Final = "Parameter boxId is not parseable as datatype id"

# restify's getContentType() (lower-cased, parameters stripped) -> upstream's decoder.
_MEDIA_TYPES: Final = {
    "application/json": "json",
    "json": "json",
    "text/csv": "csv",
    "csv": "csv",
    "application/sbx-bytes": "sbx-bytes",
    "sbx-bytes": "sbx-bytes",
    "application/sbx-bytes-ts": "sbx-bytes-ts",
    "sbx-bytes-ts": "sbx-bytes-ts",
}
_DECODERS: Final[dict[str, Callable[[bytes, Box], list[object]]]] = {
    "json": lambda body, _box: decode_json(body),
    "csv": lambda body, _box: decode_csv(body),
    "sbx-bytes": lambda body, _box: decode_sbx_bytes(body),
    "sbx-bytes-ts": lambda body, _box: decode_sbx_bytes_ts(body),
    "luftdaten": lambda body, box: decode_luftdaten(body, box.sensors),
    "hackair": lambda body, box: decode_hackair(body, box.sensors),
}
BULK_FORMATS: Final = tuple(_DECODERS)


# The query string as the routes pass it: one value, or a list when a name is repeated.
Query = Mapping[str, "str | list[str]"]
FLAGS: Final = ("luftdaten", "hackair")  # upstream's retrieveParameters order


def query_of(pairs: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    """The query string as restify's parser gives it: a name given twice is a list (which
    upstream's parameters refuse: "must only be specified once")."""
    out: dict[str, str | list[str]] = {}
    for name, value in pairs:
        seen = out.get(name)
        if seen is None:
            out[name] = value
        else:
            out[name] = [*seen, value] if isinstance(seen, list) else [seen, value]
    return out


def is_json_media(content_type: str | None) -> bool:
    """A body restify's JSON body parser parses: ``application/json`` or ``application/*+json``."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _body_params(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The JSON body's keys, where upstream's parameter search looks (``req.body``); a body
    that is not a JSON object, or not JSON by its content type, has none. Unparseable JSON
    is restify's 400 ``InvalidContent``."""
    if not body or not is_json_media(content_type):
        return {}
    if not any(name.encode() in body for name in FLAGS) and b"\\u" not in body:
        return {}  # no key can be a flag: spare the hot path a second parse
    try:
        doc = loads(body.decode("utf-8", "replace"))
    except ValueError as exc:
        raise OsemError.invalid_content(f"Invalid JSON: {exc}") from None
    return doc if isinstance(doc, dict) else {}


def _flag(name: str, value: object) -> bool:
    """One flag as upstream's String parameter and the controller's ``if (flag)`` read it."""
    if isinstance(value, list):
        raise OsemError.bad_request(f"Parameter {name} must only be specified once")
    if isinstance(value, str) or not (value is None or value is False or value == 0):
        text = value if isinstance(value, str) else to_string(value)
        if not trim(text):
            raise OsemError.unprocessable(f"Parameter {name} is not parseable as datatype String")
        return True
    return False  # JSON false / 0 / null: the parameter is set, but falsy


def bulk_flags(query: Query, content_type: str | None = None, body: bytes = b"") -> set[str]:
    """The flags set (``{"luftdaten", "hackair"}`` or part of it), upstream's way.

    Each is looked up in the query string, else in the JSON body's keys; a name given
    twice in the query (an array to restify's query parser) or as a JSON array is 400
    "Parameter <name> must only be specified once"; an empty (after trimming) string is
    422 "Parameter <name> is not parseable as datatype String"; luftdaten is checked first.
    Without ``body`` (before it is read) only the query counts.
    """
    from_body = _body_params(content_type, body)
    flags = set()
    for name in FLAGS:
        if name in query:
            value: object = query[name]
        elif name in from_body:
            value = from_body[name]
        else:
            continue
        if _flag(name, value):
            flags.add(name)
    return flags


def bulk_format(content_type: str | None, query: Query, body: bytes = b"") -> str:
    """'hackair' | 'luftdaten' | 'json' | 'csv' | 'sbx-bytes' | 'sbx-bytes-ts'.

    As upstream: the flags (:func:`bulk_flags`; 400/422 for a bad one), then hackair wins
    over luftdaten, which wins over the Content-Type (lower-cased, parameters stripped;
    missing = application/octet-stream); anything else is 415 "Unsupported
    content-type." (``debug_plain`` too: it stores nothing upstream). Without ``body``
    the flags a JSON body may carry are not seen: :meth:`OsemService.save` asks again
    once the body is read.
    """
    flags = bulk_flags(query, content_type, body)
    if "hackair" in flags:
        return "hackair"
    if "luftdaten" in flags:
        return "luftdaten"
    media = (content_type or "application/octet-stream").split(";", 1)[0].strip().lower()
    fmt = _MEDIA_TYPES.get(media)
    if fmt is None:
        raise OsemError.unsupported_media_type()
    return fmt


def _instant(received_at: datetime) -> datetime:
    """UTC, milliseconds (upstream stores a JS Date); a naive time is taken as UTC."""
    moment = received_at.replace(tzinfo=UTC) if received_at.tzinfo is None else received_at
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def decode_bulk(fmt: str, body: bytes, box: Box, *, received_at: datetime) -> list[Measurement]:
    """Every measurement of the body, checked all-or-nothing, sorted by createdAt.

    422 for anything the decoder or upstream's rules refuse (incl. more than
    ``MAX_MEASUREMENTS``), 400 InvalidContent for unparseable JSON, then 400 BadRequest
    "Measurement for sensor with id <id> does not belong to box" for the first (in
    createdAt order) sensor id that is not exactly one of the box's. A measurement without
    createdAt gets ``received_at``, which is also the base of the one-minute future limit.
    """
    decoder = _DECODERS.get(fmt)
    if decoder is None:
        raise OsemError.unsupported_media_type()
    moment = _instant(received_at)
    return to_measurements(validate_measurements(decoder(body, box), moment), box)


def decode_single(
    body: bytes,
    content_type: str | None,
    box: Box,
    sensor_id: str,
    *,
    received_at: datetime,
    query: Query | None = None,
) -> Measurement:
    """``POST /boxes/:boxId/:sensorId``: :func:`parse_single` then :func:`complete_single`.

    The route must first check the boxId syntax (422, :func:`check_id_param`), the box
    (404 "Box not found") and the token (401); see :mod:`.single` for upstream's order.
    """
    request = parse_single(body, content_type, sensor_id, query=query)
    return complete_single(request, box, received_at=_instant(received_at))


def numeric_value(value: str) -> float:
    """A stored value as a number: JS ``Number(value)``, which every accepted value is.

    Use this, not ``float()``: upstream accepts "0x1A", "0b11" and "0o17" (JS number
    literals) and refuses Python-only forms such as "1_000" or "nan".
    """
    return to_number(value)
