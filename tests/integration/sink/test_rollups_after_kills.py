"""Rollups equal a recomputation from the raw readings after SIGKILLs of the real sink
process mid-stream: counted from the readings collection here, not by the sink's code."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from generated.models import SensorReading
from tests.integration.sink.conftest import SinkWorld

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _readings(world: SinkWorld, total: int) -> list[SensorReading]:
    """Eleven devices, a reading every 2 s of event time each: ~7 minutes, so some 80
    buckets are touched while the sink is killed."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    records = []
    for i in range(total):
        record = world.reading(i, f"dev-{i % 11}")
        moment = start + timedelta(seconds=2 * (i // 11), milliseconds=i % 11)
        records.append(record.model_copy(update={"event_time": moment, "value": float(i % 97)}))
    return records


def _recomputed(readings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per rollup _id (device|sensor|minute): count, sum, min, max, last (by event time,
    then event_id), straight from the raw documents."""
    buckets: dict[str, list[dict[str, Any]]] = {}
    for r in readings:
        minute = r["event_time"].astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
        buckets.setdefault(f"{r['device_id']}|{r['sensor_id']}|{minute}", []).append(r)
    out = {}
    for key, rows in buckets.items():
        rows.sort(key=lambda r: (r["event_time"], r["event_id"]))
        values = [float(r["value"]) for r in rows]
        out[key] = {
            "count": len(values),
            "sum": sum(values),
            "min": min(values),
            "max": max(values),
            "last": values[-1],
        }
    return out


def _rollups(world: SinkWorld) -> dict[str, dict[str, Any]]:
    fields = ("count", "sum", "min", "max", "last")
    return {
        r["_id"]: {f: r.get(f) for f in fields}
        for r in world.mongo[world.database]["readings_1m"].find()
    }


def test_rollups_equal_the_raw_readings_after_sigkills_mid_batch(sink_world: SinkWorld) -> None:
    total = 2200
    records = _readings(sink_world, total)
    # Exactness is what is checked, not the views' share of the database (5 % by
    # default, which spreads a flush of the replayed buckets over tens of seconds).
    sink_world.env["IOTPIPE_SINK_VIEWS_MAX_DB_SHARE"] = "0.5"
    # A killed member holds its partitions until its session times out: the least.
    sink_world.env["IOTPIPE_SINK_SESSION_TIMEOUT_MS"] = "6000"

    kills = 3
    chunk = total // (kills + 1)
    rng = random.Random(22)  # noqa: S311 - test timing, not crypto
    for start in range(0, total - chunk, chunk):
        sink_world.produce(records[start : start + chunk])  # a backlog for the next sink
        before = sink_world.stored()
        sink = sink_world.start_sink()
        sink_world.wait_for(before + 1, timeout=30)  # storing: killed mid-stream, not at start
        time.sleep(rng.uniform(0.05, 0.6))
        sink.kill()  # SIGKILL: no flush, no commit
        sink.wait(10)
        assert sink_world.stored() < total
    sink_world.produce(records[total - chunk :])
    sink_world.start_sink()
    assert sink_world.wait_for(total, timeout=60) == total

    raw = sink_world.mongo[sink_world.database]["readings"]
    expected = _recomputed(list(raw.find({}, {"_id": 0})))
    deadline = time.monotonic() + 60
    while (got := _rollups(sink_world)) != expected and time.monotonic() < deadline:
        time.sleep(1)
    wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    assert not wrong, (
        f"{len(wrong)} of {len(expected)} buckets differ, e.g. {list(wrong.items())[:3]}"
    )
    assert set(got) == set(expected)
