"""``WS /v1/stream``: one long-lived connection per device, readings in, acks out.

Authenticate with the same key as HTTP, in the handshake headers (never the URL, which
ends up in logs). Each text frame holds one reading or an array of readings; each gets
one reply frame: ``{"frame": n, "type": "ack" | "partial" | "error", "accepted": k,
"rejected": m, "failed": f, "results": [...]}`` with the same per-record results as the
batch endpoint. A bad frame gets an error reply and the socket stays open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from ingest.api.body import parse_json
from ingest.api.context import Ctx, authenticate, trace_id
from ingest.domain.errors import IngestError
from iotpipe.contract.catalog import Contract

__all__ = ["stream_router"]


def _frame_error(frame: int, code: str, message: str) -> dict[str, Any]:
    return {
        "frame": frame,
        "type": "error",
        "accepted": 0,
        "rejected": 0,
        "failed": 0,
        "error": {"code": code, "message": message},
        "results": [],
    }


def stream_router(contract: Contract) -> APIRouter:
    router = APIRouter()
    model = contract.by_name("SensorReading").model()

    @router.websocket("/v1/stream")
    async def stream(websocket: WebSocket, ctx: Ctx) -> None:
        try:
            caller = authenticate(ctx, websocket.headers)
        except IngestError as exc:
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=exc.detail[:120])
            return
        await websocket.accept()
        devices = caller.may_publish_for()
        frame = 0
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                frame += 1
                reply = await _handle(ctx, message, frame, devices, websocket)
                ctx.metrics.requests.labels("/v1/stream", "WS", reply["type"]).inc()
                await websocket.send_json(reply)
        except WebSocketDisconnect:
            return

    async def _handle(
        ctx: Ctx,
        message: Mapping[str, Any],
        frame: int,
        devices: frozenset[str] | None,
        websocket: WebSocket,
    ) -> dict[str, Any]:
        text = message.get("text")
        if text is None:
            return _frame_error(frame, "text_frame_expected", "send readings as JSON text frames")
        if len(text.encode()) > ctx.settings.max_body_bytes:
            return _frame_error(
                frame, "frame_too_large", f"frame exceeds {ctx.settings.max_body_bytes} bytes"
            )
        try:
            raw = parse_json(text)
        except IngestError as exc:
            return _frame_error(frame, "malformed_json", exc.detail)
        records = raw if isinstance(raw, list) else [raw]
        if not records:
            return _frame_error(frame, "empty_frame", "the frame holds no reading")
        if len(records) > ctx.settings.max_batch_records:
            return _frame_error(
                frame,
                "too_many_records",
                f"at most {ctx.settings.max_batch_records} readings per frame",
            )
        results = await ctx.service.submit(
            records, model, devices=devices, trace=trace_id(websocket.headers)
        )
        counts = {
            s: sum(r.status == s for r in results) for s in ("accepted", "rejected", "failed")
        }
        kind = (
            "ack"
            if counts["accepted"] == len(results)
            else ("error" if counts["accepted"] == 0 else "partial")
        )
        return {"frame": frame, "type": kind, **counts, "results": [r.as_dict() for r in results]}

    return router
