"""The openSenseMap conformance vectors (tests/fixtures/opensensemap), ready to replay.

The case files are used as given (never edited); this module only fills in what the
README leaves to the runner:

- ``{{now}}``, ``{{now-6m}}``, ``{{now+1m+30s}}``, ``{{now-10d-175m}}`` ... -> RFC 3339 UTC
  with milliseconds relative to a ``now`` you choose (:data:`NOW` by default: the
  generation run's instant, whole seconds as the sbx-bytes-ts records need);
- ``{{receive_time}}`` -> the ``received_at`` you pass (the README's generation run used
  now + 500 ms: :data:`RECEIVED_AT`);
- ``{{access_token}}`` -> :data:`ACCESS_TOKEN` (64 lower-case hex), also used as the
  token of every box in boxes.json (luftdaten boxes have one but ``useAuth=false``);
- bodies -> bytes (``body``, ``body_json``, ``body_hex``, ``body_records_20_bytes_each``
  and the 2501-element ``body_json_note``).

Usage::

    for case in vectors.cases("csv.json"):
        body = case.body(now=NOW)
        expected = case.expected_for(now=NOW, received_at=RECEIVED_AT)
        box = vectors.box_for(case)
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from iotpipe.devices.boxes import Box

__all__ = [
    "ACCESS_TOKEN",
    "FIXTURES",
    "FORMAT_FILES",
    "NOW",
    "RECEIVED_AT",
    "Case",
    "all_cases",
    "box_for",
    "boxes",
    "cases",
    "example_requests",
    "instant",
    "iso",
    "load",
    "substitute",
]

FIXTURES: Final = Path(__file__).resolve().parents[2] / "fixtures" / "opensensemap"
FORMAT_FILES: Final = (
    "json_object.json",
    "json_array.json",
    "csv.json",
    "sbx_bytes.json",
    "sbx_bytes_ts.json",
    "luftdaten.json",
    "hackair.json",
    "single_measurement.json",
)
ACCESS_TOKEN: Final = hashlib.sha256(b"iotpipe openSenseMap conformance").hexdigest()
NOW: Final = datetime(2026, 11, 28, 22, 56, 29, tzinfo=UTC)
RECEIVED_AT: Final = NOW + timedelta(milliseconds=500)

_PLACEHOLDER: Final = re.compile(r"\{\{([^{}]+)\}\}")
_OFFSET: Final = re.compile(r"([+-])(\d+)(ms|d|m|s)")
_UNITS: Final = {"d": "days", "m": "minutes", "s": "seconds", "ms": "milliseconds"}
_NOTE: Final = re.compile(r"(\d+) elements of (\{.*\})")


def iso(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as the vectors write instants."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def instant(expr: str, now: datetime) -> datetime:
    """``now``, ``now-10d-175m``, ``now+1m+30s``, ``now-2ms`` -> the instant."""
    if not expr.startswith("now"):
        raise ValueError(f"not a time placeholder: {expr!r}")
    rest = expr[3:]
    moment = now
    for sign, amount, unit in _OFFSET.findall(rest):
        delta = timedelta(**{_UNITS[unit]: int(amount)})
        moment = moment + delta if sign == "+" else moment - delta
    if _OFFSET.sub("", rest):
        raise ValueError(f"unknown placeholder offset in {expr!r}")
    return moment


def _fill(text: str, now: datetime, received_at: datetime | None, token: str) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "access_token":
            return token
        if name == "receive_time":
            if received_at is None:
                raise ValueError("{{receive_time}} needs received_at")
            return iso(received_at)
        return iso(instant(name, now))

    return _PLACEHOLDER.sub(one, text)


def substitute(
    value: Any, *, now: datetime, received_at: datetime | None = None, token: str = ACCESS_TOKEN
) -> Any:
    """``value`` (any JSON) with every placeholder in every string replaced."""
    if isinstance(value, str):
        return _fill(value, now, received_at, token)
    if isinstance(value, list):
        return [substitute(v, now=now, received_at=received_at, token=token) for v in value]
    if isinstance(value, dict):
        return {
            k: substitute(v, now=now, received_at=received_at, token=token)
            for k, v in value.items()
        }
    return value


@cache
def load(name: str) -> dict[str, Any]:
    """A fixture file as parsed JSON (cached: treat it as read-only)."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Case:
    """One request of a case file and what upstream answers."""

    file: str
    id: str
    request: dict[str, Any]  # placeholders left in
    expected: dict[str, Any]  # placeholders left in
    box_key: str | None  # the case's "box" (a key of boxes.json), if it names one

    @property
    def route(self) -> str:
        """ "bulk" (``/boxes/:boxId/data``) or "single" (``/boxes/:boxId/:sensorId``)."""
        return "bulk" if self.path_parts[2] == "data" else "single"

    @property
    def path_parts(self) -> list[str]:
        path: str = self.request["path"]
        parts = urlsplit(path).path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "boxes":
            raise ValueError(f"{self.id}: unexpected path {self.request['path']!r}")
        return parts

    @property
    def box_id(self) -> str:
        return self.path_parts[1]

    @property
    def sensor_id(self) -> str:
        """The path's sensorId (single route only)."""
        return self.path_parts[2]

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.request["path"]).query, keep_blank_values=True))

    @property
    def status(self) -> int:
        status: int = self.expected["http_status"]
        return status

    def headers(self, *, now: datetime = NOW, token: str = ACCESS_TOKEN) -> dict[str, str]:
        headers: dict[str, str] = substitute(self.request.get("headers", {}), now=now, token=token)
        return headers

    def content_type(self) -> str | None:
        content_type: str | None = self.request.get("headers", {}).get("Content-Type")
        return content_type

    def body(self, *, now: datetime = NOW, token: str = ACCESS_TOKEN) -> bytes:
        """The request body as the client sends it."""
        request = self.request
        if "body" in request:
            text: str = substitute(request["body"], now=now, token=token)
            return text.encode()
        if "body_json" in request:
            doc = substitute(request["body_json"], now=now, token=token)
            return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        if "body_hex" in request:
            return bytes.fromhex(request["body_hex"])
        if "body_records_20_bytes_each" in request:
            return b"".join(_record(r, now) for r in request["body_records_20_bytes_each"])
        if "body_json_note" in request:
            return _from_note(request["body_json_note"])
        return b""

    def expected_for(
        self, *, now: datetime = NOW, received_at: datetime = RECEIVED_AT, token: str = ACCESS_TOKEN
    ) -> dict[str, Any]:
        """``expected`` with placeholders filled in."""
        filled: dict[str, Any] = substitute(
            self.expected, now=now, received_at=received_at, token=token
        )
        return filled


def _record(record: dict[str, Any], now: datetime) -> bytes:
    """One sbx-bytes-ts record: id, float32 LE, uint32 LE seconds (placeholder floored)."""
    expr = _PLACEHOLDER.search(record["uint32_le_unix_seconds"])
    if expr is None:
        raise ValueError(f"no time placeholder in {record!r}")
    seconds = int(instant(expr.group(1), now).timestamp())
    return (
        bytes.fromhex(record["sensor_id_hex"])
        + bytes.fromhex(record["float32_le_hex"])
        + struct.pack("<I", seconds)
    )


def _from_note(note: str) -> bytes:
    """``2501 elements of {"sensor":"...","value":i}`` -> that JSON array."""
    m = _NOTE.fullmatch(note)
    if m is None or not m.group(2).endswith(":i}"):
        raise ValueError(f"cannot build a body from note {note!r}")
    template = m.group(2)[: -len("i}")]
    return ("[" + ",".join(f"{template}{i}}}" for i in range(int(m.group(1)))) + "]").encode()


def cases(name: str) -> list[Case]:
    """Every case of a case file, in file order."""
    return [
        Case(name, c["id"], c["request"], c["expected"], c.get("box")) for c in load(name)["cases"]
    ]


def all_cases() -> list[Case]:
    """Every case of every format file (:data:`FORMAT_FILES`)."""
    return [case for name in FORMAT_FILES for case in cases(name)]


def example_requests() -> dict[str, Case]:
    """http_semantics.json's cross-format examples, by name."""
    examples = load("http_semantics.json")["example_requests"]
    return {
        name: Case("http_semantics.json", name, ex["request"], ex["expected"], None)
        for name, ex in examples.items()
    }


def boxes(token: str = ACCESS_TOKEN) -> dict[str, Box]:
    """boxes.json's boxes by key ("home", "luftdaten_sds011_dht11", ...), token = ``token``."""
    raw = load("boxes.json")["boxes"]
    return {key: Box.from_osem({**data, "access_token": token}) for key, data in raw.items()}


def box_for(case: Case, token: str = ACCESS_TOKEN) -> Box | None:
    """The box a case posts to (by its "box" key, else by the path's id); None if unknown."""
    known = boxes(token)
    if case.box_key is not None:
        return known[case.box_key]
    by_id = {b.id: b for b in known.values()}
    return by_id.get(case.box_id.lower())
