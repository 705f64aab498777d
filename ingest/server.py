"""How ingest is served: the uvicorn options and the runtime's tuning, shared with the
benchmark's bare server so both run the same server stack."""

from __future__ import annotations

import logging
from typing import Any

from ingest.settings import IngestSettings
from ingest.wire import PROTOCOL
from iotpipe.runtime import tune_gc

__all__ = ["tune_runtime", "uvicorn_options"]

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def uvicorn_options(settings: IngestSettings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.worker_count(),
        "ws_max_size": settings.max_body_bytes + 1024,
        "log_level": settings.log_level,
        "access_log": settings.access_log,
        "proxy_headers": False,
        # httptools, except for connections whose request ends lines in a bare LF
        # (senseBox sketches): those get h11 (see ingest.wire).
        "http": PROTOCOL,
    }


def tune_runtime(settings: IngestSettings) -> None:
    """Set up the Python runtime of a server process once its app is built (each worker
    builds its own, so each calls this)."""
    if settings.log_level in {"debug", "trace"}:  # ingest's own loggers too, not only uvicorn's
        root = logging.getLogger()
        root.setLevel(logging.DEBUG)
        if not root.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
            )
            root.addHandler(handler)
    tune_gc(settings.gc_gen0_threshold, freeze=settings.gc_freeze)
