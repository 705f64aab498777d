"""The faults on a three-broker stack: topics at replication factor 3 and
``min.insync.replicas`` 2, ingest with two worker processes, three sink replicas in one
group. Brokers are killed (SIGKILL), restarted in order, hung (SIGSTOP) or stopped two
at a time while readings stream; each returns its own checks (name -> held).

A broker's pid comes from the stack (``Stack.pid``); which broker leads the busiest
partition comes from the brokers' metadata and the partitions' watermarks
(:class:`~iotpipe.chaos.watch.KafkaWatch`). "Healthy again" is the cluster's own view
(``Stack.cluster``): every broker up, no partition under-replicated or offline.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from iotpipe.chaos.fault import Fault, Scenario, wait_for
from iotpipe.chaos.pipeline import PARTITIONS, spread
from iotpipe.stack.manager import Stack

__all__ = ["CLUSTER_SCENARIOS"]

BROKERS = 3
HEALTHY_WITHIN = 180.0  # seconds for a returning broker to catch up on this small machine
# ingest answers 503 once Kafka has not acknowledged a record for its delivery timeout
# (10 s); a request slower than this hung.
HUNG_REQUEST_S = 25.0


def _node_name(stack: Stack, broker_id: int) -> str:
    for node in stack.layout().kafka_nodes:
        if node.node_id == broker_id:
            return node.name
    raise LookupError(f"no Kafka node with id {broker_id} in this stack")


def _busiest_leader_process(f: Fault) -> tuple[int, int, str, int]:
    """(partition, leader id, its node's service name, its pid) of the busiest partition."""
    partition, leader = _busiest_leader(f)
    name = _node_name(f.stack, leader)
    pid = f.stack.pid(name)
    if pid is None:
        raise LookupError(f"{name} (broker {leader}) is not running")
    return partition, leader, name, pid


def _busiest_leader(f: Fault) -> tuple[int, int]:
    """(partition, leader id) of the partition holding most records, waiting for both."""
    found: list[tuple[int, int]] = []

    def known() -> bool:
        busiest = f.watch.busiest()
        if busiest is None or busiest[1] < 0:
            return False
        found.append(busiest)
        return True

    if not wait_for(known, 60, every=1.0):
        raise LookupError("the busiest partition's leader could not be read from the brokers")
    return found[-1]


def _healthy(stack: Stack) -> bool:
    return stack.cluster().healthy


def _acked_since(f: Fault, moment: float) -> bool:
    return f.driver.ledger.acknowledged_between(moment, time.monotonic()) > 0


def leader_killed(f: Fault) -> dict[str, bool]:
    """SIGKILL the broker leading the busiest partition; another replica takes over the
    lead; the broker comes back on its data and catches up."""
    partition, leader, name, pid = _busiest_leader_process(f)
    f.strike()
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    moved = wait_for(lambda: f.watch.leaders().get(partition, -1) not in (-1, leader), 60)
    acked = wait_for(lambda: _acked_since(f, killed), 60)
    time.sleep(f.plan.outage)
    f.stack.up([name])
    f.lift()
    healthy = wait_for(lambda: _healthy(f.stack), HEALTHY_WITHIN, every=2.0)
    return {
        f"partition {partition}'s lead moved off broker {leader}": moved,
        "readings acknowledged while the leader was dead": acked,
        "all brokers up and in sync after its return": healthy,
    }


def rolling_restart(f: Fault) -> dict[str, bool]:
    """Restart the three brokers one at a time (controlled shutdown, start, wait until
    no partition is under-replicated before the next)."""
    checks: dict[str, bool] = {}
    f.strike()
    for node in f.stack.layout().kafka_nodes:
        down = time.monotonic()
        f.stack.down([node.name])
        f.stack.up([node.name])
        checks[f"broker {node.node_id} back and all in sync"] = wait_for(
            lambda: _healthy(f.stack), HEALTHY_WITHIN, every=2.0
        )
        checks[f"readings acknowledged during broker {node.node_id}'s restart"] = _acked_since(
            f, down
        )
    f.lift()
    return checks


def broker_hung(f: Fault) -> dict[str, bool]:
    """SIGSTOP the busiest partition's leader (hung, not dead: its connections stay open)
    past the controller's 9 s session timeout, then SIGCONT."""
    partition, leader, _, pid = _busiest_leader_process(f)
    f.strike()
    hung = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        moved = wait_for(
            lambda: f.watch.leaders().get(partition, -1) not in (-1, leader), f.plan.hang
        )
        time.sleep(max(0.0, hung + f.plan.hang - time.monotonic()))
        acked = _acked_since(f, hung + 10.0)  # after it was fenced
    finally:
        os.kill(pid, signal.SIGCONT)
    f.lift()
    healthy = wait_for(lambda: _healthy(f.stack), HEALTHY_WITHIN, every=2.0)
    return {
        f"partition {partition}'s lead moved off the hung broker {leader}": moved,
        "readings acknowledged while it hung (after it was fenced)": acked,
        "all brokers up and in sync after SIGCONT": healthy,
    }


def sink_replica_churn(f: Fault) -> dict[str, bool]:
    """Three sink replicas in one group: SIGKILL one (no goodbye: the group notices after
    the 10 s session timeout), then a fourth joins mid-stream."""
    sinks = list(f.pipeline.sinks)
    shared = wait_for(lambda: spread(sinks), 120, every=1.0)
    victim = f.rng.choice(sinks)
    survivors = [s for s in sinks if s is not victim]
    f.strike()
    victim.kill()
    took_over = wait_for(lambda: spread(survivors), 120, every=1.0)
    time.sleep(f.rng.uniform(1.0, 3.0))
    fourth = f.pipeline.new_sink().start()
    members = [*survivors, fourth]
    rebalanced = wait_for(lambda: spread(members), 120, every=1.0)
    f.lift()
    return {
        "three replicas shared the partitions": shared,
        f"the two survivors took all {PARTITIONS} partitions": took_over,
        "the fourth replica joined with partitions of its own": rebalanced,
        "every live replica alive at the end": all(s.alive for s in members),
    }


def two_brokers_down(f: Fault) -> dict[str, bool]:
    """Stop two of three brokers: no write can reach min.insync.replicas 2, so ingest must
    answer 503 with Retry-After (not hang, not 500) and recover by itself once they are
    back, with no restart of ingest."""
    ledger = f.driver.ledger
    nodes = f.stack.layout().kafka_nodes
    stopped = [n.name for n in f.rng.sample(nodes, 2)]
    before = ledger.statuses.get(503, 0)
    f.strike()
    down = time.monotonic()
    f.stack.down(stopped)
    answered_503 = wait_for(lambda: ledger.statuses.get(503, 0) > before, 60)
    time.sleep(f.plan.outage)
    f.stack.up(stopped)
    f.lift()
    back = time.monotonic()
    recovered = wait_for(lambda: _acked_since(f, back), 120)
    healthy = wait_for(lambda: _healthy(f.stack), HEALTHY_WITHIN, every=2.0)
    # Requests sent while they were down, also those answered later (or never: status 0).
    outage_answers = [a for a in ledger.timeline() if a.at >= down and a.at - a.seconds < back]
    slowest = max((a.seconds for a in outage_answers), default=0.0)
    return {
        f"ingest answered 503 with {', '.join(stopped)} down": answered_503,
        f"no request hung while they were down (slowest {slowest:.1f} s)": (
            slowest < HUNG_REQUEST_S and not any(a.status == 0 for a in outage_answers)
        ),
        "ingest acknowledged again by itself after they returned": recovered,
        "all brokers up and in sync at the end": healthy,
    }


def _cluster(run: Callable[[Fault], dict[str, bool]], *, ci: bool = False) -> Scenario:
    return Scenario(run, brokers=BROKERS, ingest_workers=2, sinks=3, ci=ci)


CLUSTER_SCENARIOS: dict[str, Scenario] = {
    "leader-killed": _cluster(leader_killed, ci=True),
    "rolling-restart": _cluster(rolling_restart),
    "broker-hung": _cluster(broker_hung),
    "sink-replica-churn": _cluster(sink_replica_churn),
    "two-brokers-down": _cluster(two_brokers_down, ci=True),
}
