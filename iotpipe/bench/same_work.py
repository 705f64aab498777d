"""Our sink against the Kafka Connect peer, like with like.

The peer (``iotpipe.bench.peers.kafka_connect``, configured in
``compose/local/peers/kafka-connect/connector.properties``) writes the same reading
document as our sink: the record's fields with the same values and BSON types, an
ObjectId ``_id``, ``stored_time`` (a date) and ``source`` (a string), into a collection
with our sink's indexes (unique ``event_id``). What it cannot do is listed in
``DIFFERENCES``, which the bench report prints. Our sink is measured twice: as deployed
(``sink_docs_per_s``) and doing only what the peer does (``SAME_WORK_ENV``: readings
only, ``sink_same_work_docs_per_s``); the latter over the peer's rate is the ratio that
compares like with like. ``tests/integration/bench/test_fair_sink_peer.py`` runs both
sinks on one small topic and holds them to ``EQUAL_FIELDS`` and ``SAME_TYPE_FIELDS``.
"""

from __future__ import annotations

import statistics
import uuid
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from rich.console import Console
from rich.table import Table

from iotpipe.bench import limits, phases, world
from iotpipe.bench.peers import PeerContext, PeerUnavailable
from iotpipe.bench.processes import serve
from iotpipe.contract.catalog import Contract
from iotpipe.stack.manager import Stack
from iotpipe.stack.settings import StackSettings

__all__ = [
    "DIFFERENCES",
    "EQUAL_FIELDS",
    "SAME_TYPE_FIELDS",
    "SAME_WORK_ENV",
    "add_rows",
    "compare",
    "sink_rate",
    "table",
]

# The reading's fields (the contract's SensorReading): the same value and BSON type in both.
EQUAL_FIELDS = (
    "event_id", "device_id", "sensor_id", "sensor_kind", "value", "unit", "event_time",
    "ingest_time", "location", "quality", "metadata",
)  # fmt: skip
# The same name and BSON type in both, another value (see DIFFERENCES).
SAME_TYPE_FIELDS = ("_id", "stored_time", "source")

# Our sink doing the peer's work only: no rollups or device status, no device registry
# mirror (a thread reading iotpipe.devices).
SAME_WORK_ENV = {"IOTPIPE_SINK_VIEWS": "false", "IOTPIPE_SINK_DEVICES_MIRROR": "false"}

# What still differs per reading, with the peer configured to write our document.
DIFFERENCES = (
    "stored_time: ours is when the batch is handed to the database; the peer's is the "
    "record's Kafka timestamp (CreateTime, when it was produced): no stock transform or "
    "post processor stamps the write's time but the UpdateOneTimestampsStrategy write "
    "model, an upsert per document",
    "source: ours is 'partition:offset', the peer's 'topic-partition-offset' (its "
    "KafkaMetaAdder post processor, renamed)",
    "_id: an ObjectId in both, ours made by pymongo at the insert, the peer's when the "
    "connector converts the record (the peer's rate is read from it, to the second)",
    "rollups (readings_1m, per device, sensor and minute) and device_status: ours only; "
    "not in ours same-work (IOTPIPE_SINK_VIEWS=false), nor its device registry mirror",
    "a reading delivered again: ours skips it (unique event_id, counted as a duplicate); "
    "the peer's task stops on the duplicate key (errors.tolerance=none). None in the bench",
    "a record that cannot be decoded or stored: ours dead-letters it and goes on; the "
    "peer's task stops. None in the bench",
)


def sink_rate(  # noqa: PLR0917 - the run's corner, what to drain and how
    endpoints: dict[str, str],
    env: dict[str, str],
    workdir: Path,
    topic: str,
    database: str,
    prefill: int,
    *,
    same_work: bool = False,
    group: str | None = None,
) -> float:
    """Docs/s of our sink draining ``topic`` (``prefill`` readings) into ``database``, as
    deployed or, with ``same_work``, doing only what the peer does. Each mode has a
    consumer group of its own (``group`` or one named after the topic and the mode), so
    both read the same topic."""
    sink_env = world.sink_env(env, topic, database)
    if same_work:
        sink_env |= {**SAME_WORK_ENV, "IOTPIPE_SINK_GROUP_ID": f"{topic}-sink-same-work"}
    if group is not None:
        sink_env["IOTPIPE_SINK_GROUP_ID"] = group
    client: MongoClient[dict[str, Any]] = MongoClient(endpoints["mongodb"])
    readings = client[database]["readings"]

    def drained() -> bool:
        """Every reading stored. Not the committed offsets, as ``run`` asks: the sink
        commits a batch once the views have counted it, and they take at most 5 % of the
        database's time, so after a drain as deployed they trail the readings by minutes
        (the rate counts the readings only, in both modes)."""
        return readings.estimated_document_count() >= prefill

    log = workdir / ("sink-same-work.log" if same_work else "sink.log")
    try:
        with serve(["-m", "iotpipe", "sink"], sink_env, log, None):
            return phases.sink_rate(endpoints["mongodb"], database, prefill, drained=drained)
    finally:
        client.close()


def add_rows(out: Table, figures: dict[str, Any]) -> None:
    """The sink against the Kafka Connect peer, like with like: the peer (same documents),
    ours as deployed, ours doing the same work, the ratios, then what still differs."""
    connect = figures.get("peers", {}).get("kafka_connect") or {}
    theirs = connect.get("sink_docs_per_s")
    if not theirs:
        return
    full, same = figures.get("sink_docs_per_s"), figures.get("sink_same_work_docs_per_s")
    peer = f"Kafka Connect (same documents) {theirs:,.0f} docs/s"
    if full:
        out.add_row("sink as deployed (readings, rollups, device status)",
                    f"{full:,.0f} docs/s", peer, f"{full / theirs:.2f}")  # fmt: skip
    if same:
        out.add_row("sink doing the peer's work (readings only): like with like",
                    f"{same:,.0f} docs/s", peer, f"{same / theirs:.2f}")  # fmt: skip
    for line in DIFFERENCES:
        out.add_row("differs from the peer", line)


def compare(prefill: int, rounds: int, workdir: Path, console: Console) -> dict[str, Any]:
    """Our sink as deployed, our sink doing the peer's work and the Kafka Connect peer,
    each draining the same topic of ``prefill`` readings, ``rounds`` times in turn (each
    into an empty database of its own); the figures are the medians."""
    from iotpipe.bench.peers import kafka_connect  # noqa: PLC0415 - imports pymongo's store

    endpoints = Stack(StackSettings(), console=console).up().endpoints()
    tag = uuid.uuid4().hex[:8]
    topic = f"bench-sink-{tag}"
    kinds = ("full", "same_work", "peer")
    databases = {(k, r): f"bench_{k}_{r}_{tag}" for k in kinds for r in range(rounds)}
    rates: dict[str, list[float]] = {k: [] for k in kinds}
    peer: dict[str, Any] = {"name": kafka_connect.NAME}
    with world.run_world(endpoints, owner="bench", topics=[topic],
                         databases=databases.values(), workdir=workdir,
                         keep_workdir=True) as corner:  # fmt: skip
        env = corner.env()
        console.print(f"pre-filling {topic} with {prefill} readings...")
        limits.bare_producer(endpoints["kafka"], endpoints["registry"], Contract.load(), topic,
                             prefill)  # fmt: skip
        for r in range(rounds):
            for same in (False, True):
                kind = "same_work" if same else "full"
                console.print(f"round {r + 1}: our sink, {kind}...")
                rates[kind].append(sink_rate(endpoints, env, corner.workdir, topic,
                                             databases[kind, r], prefill, same_work=same,
                                             group=f"{topic}-{kind}-{r}"))  # fmt: skip
            console.print(f"round {r + 1}: {kafka_connect.NAME}...")
            context = PeerContext(
                endpoints=endpoints, workdir=corner.workdir,
                cache=StackSettings().cache_dir / "peers", seconds=0, connections=0,
                topic=topic, prefilled_topic=topic, prefill=prefill,
                database=databases["peer", r], keys_file=corner.keys_file, key=corner.key,
            )  # fmt: skip
            try:
                found = kafka_connect.measure(context)
            except PeerUnavailable as exc:
                peer = {"name": kafka_connect.NAME, "unavailable": str(exc)}
                break
            rates["peer"].append(found["sink_docs_per_s"])
            peer |= {k: v for k, v in found.items() if k != "sink_docs_per_s"}
    if rates["peer"]:
        peer["sink_docs_per_s"] = statistics.median(rates["peer"])
    figures: dict[str, Any] = {
        "sink_docs_per_s": statistics.median(rates["full"]),
        "sink_same_work_docs_per_s": statistics.median(rates["same_work"]),
        "peers": {"kafka_connect": peer},
    }
    return {"figures": figures, "rounds": rates, "differences": list(DIFFERENCES),
            "plan": {"prefill": prefill, "rounds": rounds}}  # fmt: skip


def table(result: dict[str, Any]) -> Table:
    """``iotpipe bench --sink-only``: each round's figures, then the medians' rows."""
    out = Table("figure", "value", "against (same run)", "ratio",
                title="iotpipe bench --sink-only (medians)")  # fmt: skip
    for kind, values in result["rounds"].items():
        out.add_row(f"rounds: {kind}", ", ".join(f"{v:,.0f}" for v in values) + " docs/s")
    peer = result["figures"]["peers"]["kafka_connect"]
    if "unavailable" in peer:
        out.add_row("peer Kafka Connect", "not measured", peer["unavailable"])
    out.add_section()
    add_rows(out, result["figures"])
    return out
