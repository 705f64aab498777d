"""The rollout's clients: devices that send the new field once they can.

A reading carries ``battery_v`` only if its first send goes to an ingest replica on the
new version, and then only half of the time (a fleet updates its firmware gradually).
A reading that carries it goes to new replicas only, retries included: an old ingest
knows no such field and answers 422 (its models forbid extra fields), which would be the
client's mistake, not the rollout's. A reading that went out without it keeps going
without it, so every copy of one event_id says the same.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from iotpipe.chaos.rollout.version import FIELD
from iotpipe.chaos.targets import Replica, Targets

__all__ = ["NEW", "OLD", "RolloutClients"]

OLD, NEW = "old", "new"


class RolloutClients(Targets):
    """Targets labelled ``old`` or ``new``; ``sent_field``: event_id -> the value sent."""

    def __init__(self, urls: Sequence[str], *, share: float = 0.5, seed: int = 23) -> None:
        super().__init__(urls, version=OLD)
        self.share = share
        self.sent_field: dict[str, float] = {}
        self._rng = random.Random(seed)  # noqa: S311 - test data

    def accepts(self, replica: Replica, readings: list[dict[str, Any]]) -> bool:
        return replica.version == NEW or not any(FIELD in r for r in readings)

    def dress(
        self, replica: Replica, readings: list[dict[str, Any]], fresh: Sequence[bool]
    ) -> None:
        if replica.version != NEW:
            return
        for reading, first in zip(readings, fresh, strict=True):
            if first and self._rng.random() < self.share:
                value = round(self._rng.uniform(3.3, 4.2), 3)
                reading[FIELD] = self.sent_field[reading["event_id"]] = value
