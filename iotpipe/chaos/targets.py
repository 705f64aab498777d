"""Where the load driver sends: a scenario's ingest replicas, taken in turn as a
client-side load balancer does, with a rotation that a rollout takes a replica out of
(waiting for its requests in flight, as a balancer drains a backend) before stopping it,
and puts its successor into once that one is ready.

``route`` and ``done`` run on the driver's loop, ``drain`` and ``add`` on the scenario's
thread: one lock between them, held for a few lines. A subclass decides which replicas
may take a request (``accepts``) and may change readings on their first send to the
replica chosen (``dress``): the rollout's clients send a field only to replicas that
know it (:mod:`iotpipe.chaos.rollout.clients`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Replica", "Targets"]


@dataclass(eq=False)
class Replica:
    """One ingest replica as the clients see it: its URL, the version it runs (a label:
    whatever the scenario calls it), whether it takes requests, and how many it holds."""

    url: str
    version: str = ""
    in_rotation: bool = True
    in_flight: int = 0
    requests: int = 0


class Targets:
    """The replicas in rotation, each request to the next one that accepts it."""

    def __init__(self, urls: Sequence[str], *, version: str = "") -> None:
        if not urls:
            raise ValueError("the driver needs at least one ingest URL")
        self.replicas = [Replica(url, version) for url in urls]
        self._lock = threading.Lock()
        self._turn = 0

    # -- the driver's loop ---------------------------------------------------------------
    def route(self, readings: list[dict[str, Any]], fresh: Sequence[bool]) -> Replica | None:
        """The replica for one request carrying ``readings`` (``fresh``: sent for the
        first time), counted in flight until :meth:`done`; None when no replica in
        rotation accepts them now (the caller waits and asks again)."""
        with self._lock:
            accepting = [r for r in self.replicas if r.in_rotation and self.accepts(r, readings)]
            if not accepting:
                return None
            self._turn += 1
            replica = accepting[self._turn % len(accepting)]
            replica.in_flight += 1
            replica.requests += 1
            self.dress(replica, readings, fresh)
            return replica

    def done(self, replica: Replica) -> None:
        with self._lock:
            replica.in_flight -= 1

    def accepts(self, replica: Replica, readings: list[dict[str, Any]]) -> bool:
        """Whether ``replica`` may take these readings (every replica, here)."""
        return True

    def dress(
        self, replica: Replica, readings: list[dict[str, Any]], fresh: Sequence[bool]
    ) -> None:
        """Change readings sent for the first time, for the replica taking them (no change,
        here). Called under the lock, on the driver's loop."""

    # -- the scenario's thread -----------------------------------------------------------
    def drain(self, replica: Replica, timeout: float) -> bool:
        """Out of rotation; True once none of its requests is in flight (within ``timeout``)."""
        with self._lock:
            replica.in_rotation = False
        deadline = time.monotonic() + timeout
        while replica.in_flight > 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def add(self, url: str, version: str) -> Replica:
        """A replica that is ready, into rotation."""
        replica = Replica(url, version)
        with self._lock:
            self.replicas.append(replica)
        return replica

    def in_rotation(self) -> list[Replica]:
        with self._lock:
            return [r for r in self.replicas if r.in_rotation]
