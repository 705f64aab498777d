"""The device proxy that compose ships (Caddy, ``compose/proxy/Caddyfile``), run as a real
process on the file compose mounts, in front of the shipped ``iotpipe ingest``: senseBox
firmware requests, written byte by byte on a raw socket, reach Kafka through it.

The bytes are those of sensebox/node-sketch-templater's homeV2 sketches (see
tests/fixtures/opensensemap/device_http_wire.md): one sprintf with bare-LF header lines
(``POST /boxes/<id>/data HTTP/1.1``, ``Authorization: <token>``, ``Host:
ingress.opensensemap.org``, ``Content-Type: text/csv``, ``Connection: close``,
``Content-Length``), the CSV lines, then ``client.println()``'s CRLF, which
Content-Length does not count. homeV2 Ethernet (``homev2_ethernet.tpl``) connects to port
80 in plain HTTP; homeV2 WiFi (``homev2_wifi.tpl``) to port 443 over TLS.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingest.settings import IngestSettings
from tests.integration.deploy.compose import COMPOSE_FILES, load
from tests.integration.deploy.proxy import CADDY_VERSION, CADDYFILE, Proxy, running_proxy
from tests.integration.devices.world import COMPACTED
from tests.integration.ingest.conftest import start_ingest
from tests.integration.opensensemap.conftest import HOME, OsemServer, import_boxes
from tests.scratch import Scratch
from tests.support import stop

# The first run on a machine builds Caddy from the Go module proxy (~5 min on 2 cores).
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

DOMAIN = "ingress.iotpipe.test"  # the TLS site's name: PROXY_DOMAIN, and the test CA's
TEMP, HUMID, PRESS = (
    "57000b8745fd40c8196ad052",
    "57000b8745fd40c8196ad051",
    "57000b8745fd40c8196ad050",
)


@dataclass(frozen=True)
class World:
    proxy: Proxy
    osem: OsemServer  # ingest's topic, the box's token, and its mark/consume helpers
    ca: Path


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for DOMAIN signed by it (openssl): what an operator
    mounts into compose/proxy/certs/."""
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.pem", "privkey.pem", "req.csr", "fullchain.pem")
    )
    ext = folder / "ext.cnf"
    ext.write_text(f"subjectAltName=DNS:{DOMAIN}\n")

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)

    new_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    openssl("req", "-x509", *new_key, "-keyout", ca_key, "-out", ca, "-days", "2",
            "-subj", "/CN=iotpipe test CA")  # fmt: skip
    openssl("req", *new_key, "-keyout", key, "-out", csr, "-subj", f"/CN={DOMAIN}")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", cert, "-days", "2", "-extfile", ext)  # fmt: skip
    return ca, cert, key


@pytest.fixture(scope="module")
def world(
    endpoints: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    module_scratch: Scratch,
) -> Iterator[World]:
    """The box imported with ``iotpipe devices import``, ``iotpipe ingest`` as shipped on a
    topic of its own, and Caddy on compose's Caddyfile in front of it, with certificate
    files (PROXY_TLS as the docs say to set it for files)."""
    folder = Path(tmp_path_factory.mktemp("proxy"))
    topic = module_scratch.topic("it-proxy", push=True)
    devices = f"{topic}-devices"  # its family: removed with the topic
    module_scratch.make_topics([devices], config=COMPACTED)
    token = secrets.token_hex(32)
    import_boxes(folder, token, devices, endpoints["kafka"])
    settings = IngestSettings(
        kafka_bootstrap_servers=endpoints["kafka"],
        registry_url=endpoints["registry"],
        topic=topic,
        keys_file=folder / "keys.json",
        jobs_topic=f"{topic}-jobs",
        jobs_source_url="http://127.0.0.1:9",
        devices_topic=devices,
    )
    ca, cert, key = make_certificates(folder)
    served = start_ingest(settings)
    try:
        port = int(served.base.rsplit(":", 1)[1])
        with running_proxy(
            f"127.0.0.1:{port}", folder, {"PROXY_DOMAIN": DOMAIN, "PROXY_TLS": f"{cert} {key}"}
        ) as proxy:
            yield World(proxy, OsemServer(port, topic, token, endpoints, served.process), ca)
    finally:
        stop(served.process, 30)


def exchange(sock: socket.socket, raw: bytes) -> bytes:
    """Write ``raw`` as the device does, then read the answer until the server closes."""
    sock.sendall(raw)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def split(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    return status, {k.lower(): v for k, v in (line.split(": ", 1) for line in lines)}, body


def values(osem: OsemServer, since: int, count: int) -> dict[str, tuple[str, float]]:
    got: list[Any] = osem.consume(since, count)
    return {r.sensor_id: (r.device_id, r.value) for r in got}


def test_homev2_ethernet_request_on_plain_http_reaches_kafka(world: World) -> None:
    # homev2_ethernet.tpl: "%s,%i.%02i\n" per sensor; Content-Length is the sketch's own
    # sum (id, comma, value, and a newline for all lines but the last), so the last "\n"
    # and println's "\r\n" follow the body uncounted.
    body = f"{TEMP},21.34\n{HUMID},55.20\n{PRESS},1013.25\n"
    length = (3 - 1) + sum(24 + 1 + len(str(int(v) * 100)) + 1 for v in (21.34, 55.20, 1013.25))
    assert length == len(body) - 1
    raw = (
        f"POST /boxes/{HOME}/data HTTP/1.1\n"
        f"Authorization: {world.osem.token}\n"
        "Host: ingress.opensensemap.org\n"
        "Content-Type: text/csv\n"
        "Connection: close\n"
        f"Content-Length: {length}\n"
        "\n"
        f"{body}\r\n"
    ).encode()
    since = world.osem.mark()

    with socket.create_connection(("127.0.0.1", world.proxy.http_port), 20) as sock:
        status, headers, payload = split(exchange(sock, raw))

    assert status == "HTTP/1.1 201 Created", payload
    assert headers["content-type"] == "application/json"
    assert json.loads(payload) == "Measurements saved in box"
    assert values(world.osem, since, 3) == {
        TEMP: (HOME, 21.34),
        HUMID: (HOME, 55.2),
        PRESS: (HOME, 1013.25),
    }


def test_homev2_wifi_request_over_tls_reaches_kafka(world: World) -> None:
    # homev2_wifi.tpl: "%s,%9.2f\n" per sensor, Content-Length n * 35, port 443.
    body = b"".join(b"%s,%9.2f\n" % (s.encode(), v) for s, v in ((TEMP, 3.5), (HUMID, 61.0)))
    raw = (
        (
            f"POST /boxes/{HOME}/data HTTP/1.1\nAuthorization: {world.osem.token}\n"
            f"Host: {DOMAIN}\nContent-Type: text/csv\nConnection: close\n"
            f"Content-Length: {2 * 35}\n\n"
        ).encode()
        + body
        + b"\r\n"
    )
    assert len(body) == 2 * 35
    context = ssl.create_default_context(cafile=world.ca)
    since = world.osem.mark()

    with (
        socket.create_connection(("127.0.0.1", world.proxy.https_port), 20) as tcp,
        context.wrap_socket(tcp, server_hostname=DOMAIN) as sock,
    ):
        status, _, payload = split(exchange(sock, raw))

    assert status == "HTTP/1.1 201 Created", payload
    assert json.loads(payload) == "Measurements saved in box"
    assert values(world.osem, since, 2) == {TEMP: (HOME, 3.5), HUMID: (HOME, 61.0)}


def test_plain_http_serves_device_routes_only(world: World) -> None:
    """A wrong token is ingest's 401 (the request went through); the rest of the API is
    redirected to HTTPS, never served in clear."""
    body = f"{TEMP},1.00\n"
    raw = (
        f"POST /boxes/{HOME}/data HTTP/1.1\nAuthorization: {'0' * 64}\nHost: x\n"
        f"Content-Type: text/csv\nConnection: close\nContent-Length: {len(body)}\n\n{body}"
    ).encode()
    with socket.create_connection(("127.0.0.1", world.proxy.http_port), 20) as sock:
        status, _, payload = split(exchange(sock, raw))
    assert status == "HTTP/1.1 401 Unauthorized"
    assert json.loads(payload)["message"] == "Box access token not valid!"

    get = b"GET /v1/devices HTTP/1.1\r\nHost: ingress.example.org\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", world.proxy.http_port), 20) as sock:
        status, headers, _ = split(exchange(sock, get))
    assert status == "HTTP/1.1 308 Permanent Redirect"
    assert headers["location"] == "https://ingress.example.org/v1/devices"


def test_compose_runs_this_caddy_on_this_file() -> None:
    """What the tests above ran is what compose ships: the image's version, the mounted
    Caddyfile, and every PROXY_* variable the Caddyfile reads set by compose (the ports
    and admin endpoint keep the Caddyfile's defaults in the container)."""
    read = set(re.findall(r"\{\$(PROXY_[A-Z_]+)", CADDYFILE.read_text()))
    for name, path in COMPOSE_FILES.items():
        proxy = load(path)["services"]["proxy"]
        assert proxy["image"] == f"caddy:{CADDY_VERSION.removeprefix('v')}", name
        assert "./proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"], name
        assert proxy["command"] == [
            "caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile",
        ]  # fmt: skip
        given = set(proxy["environment"])
        assert given == read - {"PROXY_HTTP_PORT", "PROXY_HTTPS_PORT", "PROXY_ADMIN"}, name
        assert [str(p).rsplit(":", 1)[1] for p in proxy["ports"]] == ["80", "443"], name
