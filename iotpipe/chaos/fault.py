"""What a scenario is and works with: the plan (short or full), the fault's context and
its marks in time, and the scenario's needs (brokers, ingest workers and replicas, sink
replicas, and a stage of its own for the rollouts)."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from iotpipe.chaos.driver import LoadDriver
from iotpipe.chaos.ledger import Ledger
from iotpipe.chaos.pipeline import Pipeline
from iotpipe.chaos.targets import Targets
from iotpipe.chaos.verdict import Accounting
from iotpipe.chaos.watch import KafkaWatch
from iotpipe.stack.manager import Stack

__all__ = ["Fault", "Plan", "Scenario", "Stage", "wait_for"]


@dataclass(frozen=True)
class Plan:
    """How hard to push: the CI short form, or the full run (``nox -s chaos``)."""

    short: bool = False

    @property
    def kills(self) -> int:
        return 3 if self.short else 10

    @property
    def outage(self) -> float:
        """Seconds a stopped service stays down."""
        return 5.0 if self.short else 15.0

    @property
    def poison_rounds(self) -> int:
        return 2 if self.short else 8

    @property
    def burst(self) -> float:
        """Seconds of the peak probe's burst."""
        return 4.0 if self.short else 8.0

    @property
    def before(self) -> float:
        """Seconds of steady stream before the fault strikes."""
        return 3.0 if self.short else 10.0

    @property
    def after(self) -> float:
        """Seconds of steady stream after the fault is lifted (to see it recover)."""
        return 5.0 if self.short else 20.0

    @property
    def hang(self) -> float:
        """Seconds a broker stays SIGSTOPped (past the 9 s after which it is fenced)."""
        return 15.0 if self.short else 30.0

    @property
    def mixed(self) -> float:
        """Seconds a rollout runs half-way (one kind of replica rolled, the other not)."""
        return 3.0 if self.short else 15.0


class Stage(Protocol):
    """A scenario's own part beyond its fault function (the rollouts'): made before its
    pipeline's processes start, it gives the replicas the driver sends to, and once every
    reading is counted, checks, notes and a table of its own."""

    def targets(self) -> Targets: ...

    def account(self, ledger: Ledger, stored: Counter[str]) -> Accounting: ...


@dataclass
class Fault:
    """What a scenario works with. ``strike`` and ``lift`` mark when the fault began and
    ended (by default: when the scenario's function was called and returned)."""

    stack: Stack
    pipeline: Pipeline
    driver: LoadDriver
    plan: Plan
    rng: random.Random
    watch: KafkaWatch
    stage: Stage | None = None
    struck: float | None = None
    over: float | None = None

    def strike(self) -> None:
        if self.struck is None:
            self.struck = time.monotonic()

    def lift(self) -> None:
        self.over = time.monotonic()


def wait_for(condition: Callable[[], bool], timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


@dataclass(frozen=True)
class Scenario:
    """A fault and the pipeline it strikes: how many brokers (one private stack per size),
    ingest replicas and worker processes in each, and sink replicas; ``stage``: made
    before the pipeline starts (:class:`Stage`); ``ci``: in the CI short form too."""

    run: Callable[[Fault], dict[str, bool]]
    brokers: int = 1
    ingest_workers: int = 1
    sinks: int = 1
    ci: bool = True
    ingest_replicas: int = 1
    stage: Callable[[Stack, Pipeline, Plan], Stage] | None = None

    @property
    def summary(self) -> str:
        return " ".join((self.run.__doc__ or "").split("\n\n")[0].split())
