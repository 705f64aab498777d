"""The pipeline's figures: ingest over HTTP (single, batch) and WebSocket, the sink from a
pre-filled topic, and end to end at a given rate."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition
from pymongo import MongoClient
from websockets.asyncio.client import connect

from iotpipe.bench.workload import batch_body

__all__ = [
    "LatencyFigures",
    "committed",
    "e2e_at_rate",
    "percentile",
    "sink_rate",
    "websocket_rate",
]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass(frozen=True)
class LatencyFigures:
    p50_ms: float
    p99_ms: float
    samples: int


def websocket_rate(
    url: str, key: str, *, seconds: float, connections: int, batch: int
) -> tuple[float, float]:
    """Readings/s acknowledged over ``connections`` WebSockets sending frames of ``batch``
    readings, one frame in flight each; and the client's CPU share of one core."""
    frame = batch_body(batch).decode()

    async def one(stop: float) -> int:
        done = 0
        async with connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
            while time.perf_counter() < stop:
                await ws.send(frame)
                reply = await ws.recv()
                if '"type":"ack"' in str(reply).replace(" ", ""):
                    done += batch
        return done

    async def all_of() -> int:
        stop = time.perf_counter() + seconds
        return sum(await asyncio.gather(*(one(stop) for _ in range(connections))))

    cpu, began = time.process_time(), time.perf_counter()
    acknowledged = asyncio.run(all_of())
    wall = time.perf_counter() - began
    return acknowledged / wall, (time.process_time() - cpu) / wall


def committed(kafka: str, group: str, topic: str) -> int:
    """Records of ``topic`` that consumer group ``group`` has committed (all partitions):
    how far a sink is, asked of Kafka, not of the database under test."""
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": group})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        found = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in found)


def sink_rate(
    mongo_uri: str,
    database: str,
    expected: int,
    *,
    drained: Callable[[], bool],
    timeout: float = 600,
) -> float:
    """Docs/s of a sink draining a pre-filled topic: documents over the span of their
    stored_time (first to last batch), once ``drained()`` says the sink is through (its
    committed offsets: polling the database instead competes with the sink for it; on
    FerretDB a count of 40,000 documents took seconds)."""
    deadline = time.monotonic() + timeout
    while not drained():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sink did not drain the topic in {timeout:.0f} s")
        time.sleep(0.5)
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    readings = client[database]["readings"]
    try:
        times = [d["stored_time"] for d in readings.find({}, {"stored_time": 1, "_id": 0})]
    finally:
        client.close()
    if len(times) != expected:
        raise RuntimeError(f"the sink stored {len(times)} of {expected} documents")
    first, last = min(times), max(times)
    batches = len(set(times))
    # The span runs from the first batch's stamp to the last's: add one batch's share.
    span = (last - first).total_seconds() * batches / max(batches - 1, 1)
    return expected / span if span > 0 else float("nan")


def e2e_at_rate(
    base_url: str, key: str, *, rate: float, seconds: float, batch: int = 100
) -> tuple[float, list[str]]:
    """Post batches of ``batch`` readings at ``rate`` readings/s (several connections,
    evenly paced) for ``seconds``; returns the rate achieved and the accepted event ids."""
    interval = batch / rate
    body = batch_body(batch)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    ids: list[str] = []

    async def run() -> int:
        sent = 0
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            tasks: set[asyncio.Task[httpx.Response]] = set()
            began = time.perf_counter()
            tick = 0
            while (now := time.perf_counter()) - began < seconds:
                due = began + tick * interval
                if now < due:
                    await asyncio.sleep(due - now)
                tasks.add(
                    asyncio.create_task(
                        client.post("/v1/readings/batch", content=body, headers=headers)
                    )
                )
                tick += 1
                sent += batch
                finished = {t for t in tasks if t.done()}
                for task in finished:
                    _collect(task.result(), ids)
                tasks -= finished
            for response in await asyncio.gather(*tasks):
                _collect(response, ids)
        return sent

    began = time.perf_counter()
    sent = asyncio.run(run())
    return sent / (time.perf_counter() - began), ids


def _collect(response: httpx.Response, ids: list[str]) -> None:
    if response.status_code == 202:
        ids.extend(r["event_id"] for r in response.json()["results"] if r["status"] == "accepted")


def e2e_latencies(
    mongo_uri: str, database: str, ids: list[str], timeout: float = 120
) -> LatencyFigures:
    """Accept (ingest_time) to stored (stored_time, stamped when the sink hands the
    document's batch to the database) per document; the caller adds the sink's mean
    batch write time to reach "visible"."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    readings = client[database]["readings"]
    deadline = time.monotonic() + timeout
    try:
        while readings.count_documents({}) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.5)
        rows = list(readings.find({}, {"ingest_time": 1, "stored_time": 1, "_id": 0}))
    finally:
        client.close()
    latencies = [_ms(r["stored_time"], r["ingest_time"]) for r in rows]
    return LatencyFigures(
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p99_ms=percentile(latencies, 0.99),
        samples=len(latencies),
    )


def _ms(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() * 1000
