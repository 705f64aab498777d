"""``iotpipe ingest`` (serve the API) and ``iotpipe keys create | list | revoke``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from iotpipe.cli.options import KafkaServers, RegistryUrl
from iotpipe.terminal import make_console

__all__ = ["ingest", "keys_app"]

out = make_console()
err = make_console(stderr=True)
keys_app = typer.Typer(help="Per-device API keys for ingest (stored hashed).", no_args_is_help=True)

KeysFile = Annotated[
    Path | None,
    typer.Option(
        "--keys-file",
        help="Key file (env IOTPIPE_INGEST_KEYS_FILE; default "
        "~/.local/state/iotpipe/ingest-keys.json).",
        show_default=False,
    ),
]


def _store(keys_file: Path | None):  # type: ignore[no-untyped-def]
    from ingest.auth.keys import KeyStore  # noqa: PLC0415 - keep `iotpipe --help` fast
    from ingest.settings import IngestSettings  # noqa: PLC0415

    return KeyStore(keys_file or IngestSettings().keys_file)


@keys_app.command("create")
def create_key(
    device_id: Annotated[str, typer.Argument(help="The device this key publishes for.")],
    admin: Annotated[bool, typer.Option("--admin", help="An operations key: any device.")] = False,
    keys_file: KeysFile = None,
) -> None:
    """Create a key and print it once; only its hash is stored."""
    entry, key = _store(keys_file).create(device_id, "admin" if admin else "device")
    err.print(f"key {entry.key_id} for {entry.device_id} ({entry.role}); it is shown only now:")
    typer.echo(key)


@keys_app.command("list")
def list_keys(keys_file: KeysFile = None) -> None:
    """List keys (ids, devices, state); never the keys themselves."""
    table = Table("key id", "device", "role", "created", "revoked")
    for entry in _store(keys_file).list():
        table.add_row(
            entry.key_id, entry.device_id, entry.role, entry.created, entry.revoked or "-"
        )
    out.print(table)


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key id shown by create or list.")],
    keys_file: KeysFile = None,
) -> None:
    """Revoke a key; a running ingest refuses it within a second."""
    entry = _store(keys_file).revoke(key_id)
    err.print(f"revoked {entry.key_id} ({entry.device_id})")


def ingest(
    host: Annotated[str | None, typer.Option(help="Bind address (default: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: one per core).")
    ] = None,
    kafka_bootstrap_servers: KafkaServers = None,
    registry_url: RegistryUrl = None,
) -> None:
    """Serve the ingest API (uvicorn). Endpoints default to the local stack.

    Settings: IOTPIPE_INGEST_*, IOTPIPE_KAFKA_BOOTSTRAP_SERVERS and IOTPIPE_REGISTRY_URL
    (docs/operations/ingest.md)."""
    from ingest.settings import IngestSettings  # noqa: PLC0415
    from ingest.workers import serve  # noqa: PLC0415

    flags: dict[str, Any] = {
        "host": host,
        "port": port,
        "workers": workers,
        "kafka_bootstrap_servers": kafka_bootstrap_servers,
        "registry_url": registry_url,
    }
    given = {k: v for k, v in flags.items() if v}
    settings = IngestSettings(**given)
    # Worker processes build their own app from the environment: pass the flags along.
    for name, value in given.items():
        os.environ[f"IOTPIPE_INGEST_{name.upper()}"] = str(value)
    serve(settings)
