"""Device states: a device retired or paused on purpose is not "silent".

Any device of the contract (its ``device_id``, a box or not) can be marked ``paused``
(off for a while: maintenance, winter storage) or ``retired`` (gone for good), and
``active`` again. The state is recorded on the registry topic, beside the boxes (see
:mod:`iotpipe.devices.topic`); the sink mirrors it onto the device's ``device_status``
document, where the "device silent" alert and the fleet dashboard's silent count leave
such devices out. Readings of a paused or retired device are still accepted and stored:
the state says what silence means, not whether a device may publish (revoke its key or
remove its box for that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from iotpipe.errors import ConfigError

__all__ = [
    "DEVICE_ID",
    "SILENCED",
    "DeviceState",
    "DeviceStates",
    "InMemoryStates",
    "StateRecord",
    "check_device_id",
]

# The contract's rule for device_id (schemas/sensor_reading.avsc; a unit test keeps them
# equal). It has no "/", so a state's record key ``state/<device_id>`` never meets a box id.
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class DeviceState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    RETIRED = "retired"


# The states whose devices are expected to be silent: left out of the silent alert and
# count (the dashboards' queries list these values).
SILENCED = (DeviceState.PAUSED, DeviceState.RETIRED)


def check_device_id(device_id: str) -> str:
    if not DEVICE_ID.match(device_id):
        raise ConfigError(
            f"{device_id!r} is not a device id (the contract's device_id: letters, digits "
            "and . _ : - , 1 to 128 characters, starting with a letter or digit)"
        )
    return device_id


@dataclass(frozen=True)
class StateRecord:
    """A device's state as recorded; ``changed_at`` is when (the Kafka record's time)."""

    device_id: str
    state: DeviceState
    reason: str = ""
    changed_at: datetime | None = None


class DeviceStates(Protocol):
    """Device states as ingest sees and sets them (real adapter:
    ``ingest.devices.RegistryStates``; fake: :class:`InMemoryStates`)."""

    def state_of(self, device_id: str) -> StateRecord | None:
        """The recorded state, or None if none was ever recorded (active)."""
        ...

    def record(self, device_id: str, state: DeviceState, reason: str) -> StateRecord:
        """Record a state and return it once the registry has it; raises
        :class:`~iotpipe.errors.IotpipeError` subclasses when it cannot."""
        ...


class InMemoryStates:
    """States held in a dict: unit tests, and the follower's current view."""

    def __init__(self) -> None:
        self._states: dict[str, StateRecord] = {}

    def state_of(self, device_id: str) -> StateRecord | None:
        return self._states.get(device_id)

    def record(self, device_id: str, state: DeviceState, reason: str) -> StateRecord:
        self.put(StateRecord(device_id, state, reason, datetime.now(UTC)))
        return self._states[device_id]

    def put(self, record: StateRecord) -> None:
        self._states[record.device_id] = record

    def all(self) -> list[StateRecord]:
        return sorted(self._states.values(), key=lambda r: r.device_id)
