"""The device proxy of the compose files (Caddy, ``compose/proxy/Caddyfile``) as a process.

There is no Docker engine where the tests run, so the proxy is the same Caddy release as
the image compose pins, built once from the Go module proxy (``go install``) and cached
under iotpipe's cache, and it runs the very Caddyfile that compose mounts, with the
environment variables compose sets pointed at a test's ingest and ports.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from iotpipe.stack.install import go_env
from iotpipe.stack.prereqs import find_go
from iotpipe.stack.settings import StackSettings
from tests.integration.deploy.compose import COMPOSE_DIR
from tests.support import free_port, stop

CADDY_MODULE = "github.com/caddyserver/caddy/v2"
# The image compose runs is caddy:<this without the v>; bump both together.
CADDY_VERSION = "v2.11.9"
CADDYFILE = COMPOSE_DIR / "proxy" / "Caddyfile"


def caddy_binary() -> Path:
    """Caddy CADDY_VERSION, built once per machine (a few minutes cold, then cached)."""
    cache = StackSettings().cache_dir
    binary = cache / "caddy" / CADDY_VERSION / "caddy"
    if not binary.is_file():
        work = binary.parent / f".build-{os.getpid()}"
        work.mkdir(parents=True, exist_ok=True)
        env = {
            **go_env(cache),
            "GOPATH": str(cache / "go" / "path"),
            "GOTOOLCHAIN": "local",
            "GOBIN": str(work),
        }
        result = subprocess.run(
            [find_go(), "install", "-trimpath", f"{CADDY_MODULE}/cmd/caddy@{CADDY_VERSION}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,  # outside any Go module
            timeout=1200,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"building Caddy failed: {result.stderr.strip()[-2000:]}")
        (work / "caddy").replace(binary)
        work.rmdir()
    return binary


@dataclass(frozen=True)
class Proxy:
    http_port: int
    https_port: int
    log: Path


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


@contextmanager
def running_proxy(upstream: str, folder: Path, settings: Mapping[str, str]) -> Iterator[Proxy]:
    """``caddy run`` on compose's Caddyfile, in front of ``upstream``, on free ports, with
    ``settings`` (PROXY_DOMAIN, PROXY_TLS) as compose passes them; its data under
    ``folder`` and no admin endpoint."""
    http_port, https_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "PROXY_UPSTREAM": upstream,
        "PROXY_HTTP_PORT": str(http_port),
        "PROXY_HTTPS_PORT": str(https_port),
        "PROXY_ADMIN": "off",
        **settings,
    }
    log = folder / "caddy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [caddy_binary(), "run", "--config", CADDYFILE, "--adapter", "caddyfile"],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while not (_listening(http_port) and _listening(https_port)):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"caddy did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
            yield Proxy(http_port, https_port, log)
        finally:
            stop(process, 10)
