"""senseBox requests byte for byte, over a raw socket, against a real ingest process
started with the shipped uvicorn options: the readings must arrive in Kafka.

The bytes follow sensebox/node-sketch-templater (see
tests/fixtures/opensensemap/device_http_wire.md): request and header lines end in a bare
LF, values are ``%9.2f``-padded, ``Connection: close``, and the sketch sends a CRLF after
the body that Content-Length does not count.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.opensensemap.conftest import HOME, OsemServer

HOST = b"ingress.opensensemap.org"
TEMP, HUMID, PRESS, LUX, UV = (
    "57000b8745fd40c8196ad052",
    "57000b8745fd40c8196ad051",
    "57000b8745fd40c8196ad050",
    "57000b8745fd40c8196ad04f",
    "57000b8745fd40c8196ad04e",
)


def sketch_request(token: str, body: bytes, content_length: int) -> bytes:
    """homev2_wifi.tpl / homev2_ethernet.tpl: one sprintf with bare LFs, then the body,
    then ``client.println()``."""
    head = (
        f"POST /boxes/{HOME}/data HTTP/1.1\nAuthorization: {token}\nHost: "
        f"{HOST.decode()}\nContent-Type: text/csv\nConnection: close\n"
        f"Content-Length: {content_length}\n\n"
    )
    return head.encode() + body + b"\r\n"


def split(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def as_json(records: list[Any]) -> dict[str, dict[str, Any]]:
    return {r.sensor_id: r.model_dump(mode="json") for r in records}


def assert_recent(event_time: str) -> None:
    moment = datetime.fromisoformat(event_time)
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=30)


def test_wifi_v2_padded_lf_only_request_is_stored(osem_server: OsemServer) -> None:
    values = [(TEMP, 21.34), (HUMID, 55.20), (PRESS, 1013.25), (LUX, 1200.0), (UV, 0.0)]
    body = b"".join(b"%s,%9.2f\n" % (sid.encode(), v) for sid, v in values)
    assert len(body) == 35 * len(values)  # the sketch's Content-Length: n * 35
    since = osem_server.mark()

    status, headers, payload = split(
        osem_server.send(sketch_request(osem_server.token, body, 35 * len(values)))
    )

    assert status == 201, payload
    assert headers["content-type"] == "application/json"
    assert json.loads(payload) == "Measurements saved in box"
    got = as_json(osem_server.consume(since, len(values)))
    assert sorted(got) == sorted(sid for sid, _ in values)
    units = {TEMP: "°C", HUMID: "%", PRESS: "hPa", LUX: "lx", UV: "μW/cm²"}
    titles = {TEMP: "Temperatur", HUMID: "rel. Luftfeuchte", PRESS: "Luftdruck"}
    for sid, value in values:
        record = got[sid]
        assert record["device_id"] == HOME
        assert record["value"] == value
        assert record["unit"] == units[sid]
        assert record["metadata"]["source"] == "opensensemap"
        assert_recent(record["event_time"])
    for sid, title in titles.items():
        assert got[sid]["metadata"]["osem_title"] == title
    assert got[TEMP]["sensor_kind"] == "TEMPERATURE"
    assert got[HUMID]["metadata"]["osem_value"] == "55.20"  # the string upstream keeps


def test_ethernet_v2_short_content_length_is_honoured_like_upstream(
    osem_server: OsemServer,
) -> None:
    body = f"{TEMP},21.34\n{HUMID},55.20\n".encode()
    since = osem_server.mark()

    # Content-Length two bytes short: the server reads "...,55.2" and no further.
    status, _, payload = split(
        osem_server.send(sketch_request(osem_server.token, body, len(body) - 2))
    )

    assert status == 201, payload
    got = as_json(osem_server.consume(since, 2))
    assert {sid: r["value"] for sid, r in got.items()} == {TEMP: 21.34, HUMID: 55.2}
    assert "osem_value" not in got[HUMID]["metadata"]  # "55.2": the last byte was cut


def test_ethernet_v2_cut_into_the_last_line_is_422_and_stores_nothing(
    osem_server: OsemServer,
) -> None:
    lines = [f"{sid},{v}\n" for sid, v in ((TEMP, "21.34"), (HUMID, "55.20"), (PRESS, "1013.25"))]
    body = "".join(lines).encode()
    since = osem_server.mark()

    # 12 bytes short: the last line ends inside the sensor id, as upstream sees it.
    status, _, payload = split(
        osem_server.send(sketch_request(osem_server.token, body, len(body) - 12))
    )

    assert status == 422, payload
    assert json.loads(payload)["code"] == "UnprocessableEntity"
    assert osem_server.consume(since, 1, timeout=3) == []


def test_custom_setup_without_space_after_colon_is_stored(osem_server: OsemServer) -> None:
    # custom_setup.tpl: client.print("Authorization:"); client.println(token); ...
    # client.println(jsonValue) -> CRLF lines and a CRLF after the 15-byte body.
    value = b'{"value":21.34}'
    raw = (
        (
            f"POST /boxes/{HOME}/{TEMP} HTTP/1.1\r\nHost:{HOST.decode()}\r\n"
            f"Authorization:{osem_server.token}\r\nContent-Type: application/json\r\n"
            f"Connection: close\r\nContent-Length: {len(value)}\r\n\r\n"
        ).encode()
        + value
        + b"\r\n"
    )
    since = osem_server.mark()

    status, _, payload = split(osem_server.send(raw))

    assert status == 201, payload
    assert json.loads(payload) == "Measurement saved in box"
    got = as_json(osem_server.consume(since, 1))
    assert list(got) == [TEMP]
    assert got[TEMP]["value"] == 21.34
    assert got[TEMP]["device_id"] == HOME


def test_home_v1_crlf_body_lines_and_blank_line(osem_server: OsemServer) -> None:
    # home_wifi.tpl (v1, plain HTTP on port 80): LF header lines like v2, but each value
    # is dtostrf(value, 9, 2) + client.println (CRLF), then an empty println.
    body = f"{TEMP},    21.34\r\n{HUMID},    55.20\r\n\r\n".encode()
    raw = sketch_request(osem_server.token, body, len(body))
    since = osem_server.mark()

    status, _, payload = split(osem_server.send(raw))

    assert status == 201, payload
    got = as_json(osem_server.consume(since, 2))
    assert {sid: r["value"] for sid, r in got.items()} == {TEMP: 21.34, HUMID: 55.2}


def test_wrong_token_on_the_device_wire_is_401_and_stores_nothing(
    osem_server: OsemServer,
) -> None:
    body = f"{TEMP},    21.34\n".encode()
    since = osem_server.mark()

    status, _, payload = split(osem_server.send(sketch_request("0" * 64, body, len(body))))

    assert status == 401
    assert json.loads(payload) == {"code": "Unauthorized", "message": "Box access token not valid!"}
    assert osem_server.consume(since, 1, timeout=3) == []
