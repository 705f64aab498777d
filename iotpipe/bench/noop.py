"""The bare HTTP server: the same server stack as ingest (FastAPI on uvicorn, ingest's
uvicorn options and runtime tuning), answering a no-op endpoint that reads the body and answers 202.

``python -m iotpipe.bench.noop PORT``
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request, Response

from ingest.server import tune_runtime, uvicorn_options
from ingest.settings import IngestSettings

__all__ = ["create_app"]


def create_app() -> FastAPI:
    app = FastAPI(title="iotpipe bench: no-op")

    @app.post("/noop", status_code=202)
    async def noop(request: Request) -> Response:
        await request.body()
        return Response(b'{"status":"accepted"}', 202, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    tune_runtime(IngestSettings())
    return app


if __name__ == "__main__":
    options = uvicorn_options(IngestSettings(port=int(sys.argv[1])))
    uvicorn.run("iotpipe.bench.noop:create_app", factory=True, **options)
