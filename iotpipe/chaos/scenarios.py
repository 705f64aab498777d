"""The faults on a one-broker stack, and every scenario by name (the cluster's are in
:mod:`iotpipe.chaos.cluster`, the schema rollouts' in :mod:`iotpipe.chaos.rollout`). Each
runs while the load driver streams readings and returns its own checks (name -> held);
the common counting and verdict are in :mod:`run`.

Pauses here only decide *when* a fault strikes; every check waits on a condition with a
generous deadline, since this runs on small, busy machines.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx

from iotpipe.chaos.cluster import CLUSTER_SCENARIOS
from iotpipe.chaos.fault import Fault, Plan, Scenario, wait_for
from iotpipe.chaos.pipeline import PARTITIONS
from iotpipe.chaos.poison import PoisonProducer, dead_letters
from iotpipe.chaos.rollout.scenario import ROLLOUT_SCENARIOS

__all__ = ["SCENARIOS", "Fault", "Plan", "Scenario", "wait_for"]


def sink_killed(f: Fault) -> dict[str, bool]:
    """SIGKILL the sink at random moments, restart it each time."""
    sink = f.pipeline.sinks[0]
    for _ in range(f.plan.kills):
        time.sleep(f.rng.uniform(0.5, 3.0))
        f.strike()
        sink.kill()
        time.sleep(f.rng.uniform(0.0, 1.0))
        sink.start()
    f.lift()
    return {"sink alive at the end": sink.alive}


def kafka_restarted(f: Fault) -> dict[str, bool]:
    """Stop the broker during ingest; ingest must answer 503 + Retry-After, then recover."""
    ledger = f.driver.ledger
    before = ledger.statuses.get(503, 0)
    f.strike()
    f.stack.down(["kafka"])
    answered_503 = wait_for(lambda: ledger.statuses.get(503, 0) > before, 60)
    time.sleep(f.plan.outage)
    f.stack.up(["kafka"])
    f.lift()
    back = time.monotonic()
    recovered = wait_for(lambda: ledger.acknowledged_between(back, time.monotonic()) > 0, 120)
    return {
        "ingest answered 503 while Kafka was down": answered_503,
        "ingest acknowledged again after restart": recovered,
        "sink alive at the end": all(s.alive for s in f.pipeline.sinks),
    }


def database_restarted(f: Fault) -> dict[str, bool]:
    """Stop the database while the sink writes; it must wait, not die, and resume."""
    time.sleep(f.rng.uniform(1.0, 3.0))
    f.strike()
    f.stack.down(["mongodb"])
    time.sleep(f.plan.outage)
    f.stack.up(["mongodb"])
    f.lift()
    time.sleep(f.rng.uniform(1.0, 3.0))
    return {"sink survived the outage": all(s.alive for s in f.pipeline.sinks)}


def _device_event(f: Fault) -> httpx.Response:
    device, key = sorted(f.pipeline.keys.items())[0]
    event = {
        "event_id": str(uuid.uuid4()),
        "device_id": device,
        "kind": "HEARTBEAT",
        "event_time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "status": "ONLINE",
    }
    return httpx.post(
        f"{f.pipeline.base_url}/v1/device-events",
        json=event,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def registry_stopped(f: Fault) -> dict[str, bool]:
    """Stop the registry: ingest looked up every record type's schema id when it started,
    so readings keep flowing and a record type it has not published yet (DeviceEvent) is
    accepted too; after the registry is back, both still are. (A schema id that could not
    be looked up at all answers 503 with Retry-After: tests/integration/ingest/test_produce.py.)"""
    ledger = f.driver.ledger
    f.strike()
    f.stack.down(["registry"])
    down = time.monotonic()
    time.sleep(f.plan.outage)
    served = ledger.acknowledged_between(down, time.monotonic()) > 0
    first_event = _device_event(f)
    f.stack.up(["registry"])
    f.lift()
    recovered = wait_for(lambda: _device_event(f).status_code == 202, 120, every=1.0)
    return {
        "readings acknowledged while the registry was down": served,
        f"a first device event accepted while it was down (got {first_event.status_code})": (
            first_event.status_code == 202
        ),
        "device events accepted after restart": recovered,
    }


def poison_injected(f: Fault) -> dict[str, bool]:
    """Garbage, truncated, wrong-magic and unknown-schema records straight into the topic."""
    endpoints = f.pipeline.endpoints
    poison = PoisonProducer(endpoints["kafka"], endpoints["registry"], f.pipeline.topic)
    devices = sorted(f.pipeline.keys)
    f.strike()
    for i in range(f.plan.poison_rounds):
        poison.inject(devices[i % len(devices)])
        time.sleep(f.rng.uniform(0.2, 1.0))
    f.lift()
    injected = sum(poison.produced.values())
    last = time.monotonic()
    ledger = f.driver.ledger
    flowing = wait_for(lambda: ledger.acknowledged_between(last, time.monotonic()) > 20, 60)
    landed = wait_for(
        lambda: sum(dead_letters(endpoints["kafka"], f.pipeline.dlq_topic).values()) >= injected,
        120,
        every=2.0,
    )
    letters = dead_letters(endpoints["kafka"], f.pipeline.dlq_topic)
    return {
        f"{injected} injected, {sum(letters.values())} in the DLQ {dict(letters)}": (
            landed and sum(letters.values()) == injected
        ),
        "readings kept flowing after the poison": flowing,
        "sink alive at the end": all(s.alive for s in f.pipeline.sinks),
    }


def group_member_killed(f: Fault) -> dict[str, bool]:
    """Two sinks in one group; SIGKILL one mid-stream; the other takes its partitions."""
    first, second = f.pipeline.sinks[0], f.pipeline.new_sink().start()
    shared = wait_for(lambda: first.assigned() > 0 and second.assigned() > 0, 120, every=1.0)
    time.sleep(f.rng.uniform(1.0, 3.0))
    f.strike()
    second.kill()
    # The group notices a SIGKILLed member after the sink's session timeout (10 s).
    took_over = wait_for(lambda: first.assigned() == PARTITIONS, 150, every=1.0)
    f.lift()
    return {
        "both members had partitions": shared,
        f"the survivor took all {PARTITIONS} partitions": took_over,
    }


SCENARIOS: dict[str, Scenario] = {
    "sink-killed": Scenario(sink_killed),
    "kafka-restarted": Scenario(kafka_restarted),
    "database-restarted": Scenario(database_restarted),
    "registry-stopped": Scenario(registry_stopped),
    "poison": Scenario(poison_injected),
    "group-member-killed": Scenario(group_member_killed),
    **CLUSTER_SCENARIOS,
    **ROLLOUT_SCENARIOS,
}
