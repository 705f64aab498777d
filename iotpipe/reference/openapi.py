"""``generated/openapi.json``: ingest's OpenAPI document, from the app as ingest builds it.

Run by ``iotpipe codegen`` as ``python -m iotpipe.reference.openapi OUTPUT`` with the
generated folder's parent first on ``PYTHONPATH`` (so the models just generated are the
ones described) and without ``IOTPIPE_*`` variables (so the defaults are). The app is
``ingest.main.build_app``, the production wiring; it needs no Kafka: its clients point at
a closed port, connect lazily, and ingest does not wait for the device registry.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from ingest.main import build_app
from ingest.settings import IngestSettings

__all__ = ["main", "openapi_document"]

NOWHERE = "127.0.0.1:9"  # the discard port: nothing listens on it


def openapi_document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="iotpipe-openapi-") as tmp:
        settings = IngestSettings(
            kafka_bootstrap_servers=NOWHERE,
            registry_url=f"http://{NOWHERE}",
            devices_wait_seconds=0,
            keys_file=Path(tmp) / "keys.json",
        )
        # The device registry's follower thread is a daemon: it ends with this process.
        return build_app(settings).openapi()


def main(output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
