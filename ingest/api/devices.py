"""``/v1/devices/{device_id}/state``: pause, retire or reactivate a device (admin keys).

A paused or retired device is left out of the "device silent" alert and the fleet
dashboard's silent devices; its readings are still accepted. The state is recorded on the
device registry topic (``iotpipe.devices``), which this ingest follows: a GET here shows
a state set elsewhere (``iotpipe devices retire``, another replica) within about a second.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from ingest.api.context import AdminCaller, Ctx
from ingest.domain.errors import Unavailable
from ingest.errors import PROBLEM
from iotpipe.devices.states import DEVICE_ID, DeviceState, DeviceStates, StateRecord
from iotpipe.errors import IotpipeError

__all__ = ["DeviceStateView", "StateRequest", "devices_router"]


class StateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: DeviceState = Field(
        description="`paused` (off for a while), `retired` (gone for good) or `active`."
    )
    reason: str = Field(default="", max_length=500, description="Why, for whoever reads it.")


class DeviceStateView(BaseModel):
    device_id: str = Field(description="The device (its `device_id` in readings).")
    state: DeviceState = Field(
        description="`paused` and `retired` devices are never alerted on as silent."
    )
    reason: str = Field(description="As given when the state was set; empty if none.")
    changed_at: datetime | None = Field(
        description="When the state was recorded; null for a device never paused or retired."
    )


def _view(device_id: str, record: StateRecord | None) -> DeviceStateView:
    if record is None:
        return DeviceStateView(
            device_id=device_id, state=DeviceState.ACTIVE, reason="", changed_at=None
        )
    return DeviceStateView(
        device_id=record.device_id,
        state=record.state,
        reason=record.reason,
        changed_at=record.changed_at,
    )


async def _states(connection: HTTPConnection) -> DeviceStates:
    states: DeviceStates = connection.app.state.device_states
    return states


States = Annotated[DeviceStates, Depends(_states)]
DeviceId = Annotated[
    str,
    PathParam(
        pattern=DEVICE_ID.pattern,
        description="The device's `device_id` (an openSenseMap box's `_id`).",
        examples=["sensebox-5f2b6c9e"],
    ),
]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        s: {"content": {PROBLEM: {"schema": schema}}, "description": "problem details"}
        for s in statuses
    }


def devices_router() -> APIRouter:
    router = APIRouter(prefix="/v1/devices", tags=["devices"])

    @router.put(
        "/{device_id}/state",
        summary="Pause, retire or reactivate a device",
        description="Records the state on the device registry topic and answers once Kafka "
        'has it. A `paused` or `retired` device is left out of the "device silent" alert '
        "and the fleet dashboard's silent devices (once the sink has mirrored it, about a "
        "second); its readings are still accepted. `active` undoes either.",
        responses=_errors(400, 401, 403, 422, 503),
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/json": {
                        "example": {"state": "retired", "reason": "replaced by sensebox-77"}
                    }
                }
            }
        },
    )
    async def set_state(
        device_id: DeviceId, body: StateRequest, states: States, ctx: Ctx, _caller: AdminCaller
    ) -> DeviceStateView:
        try:
            record = await run_in_threadpool(states.record, device_id, body.state, body.reason)
        except IotpipeError as exc:
            raise Unavailable(
                f"the state was not recorded: {exc}",
                retry_after=ctx.settings.retry_after_seconds,
            ) from exc
        return _view(device_id, record)

    @router.get(
        "/{device_id}/state",
        summary="A device's state",
        description="`active` with `changed_at` null for a device never paused or retired.",
        responses=_errors(401, 403, 422),
    )
    async def get_state(
        device_id: DeviceId, states: States, _caller: AdminCaller
    ) -> DeviceStateView:
        return _view(device_id, states.state_of(device_id))

    return router
