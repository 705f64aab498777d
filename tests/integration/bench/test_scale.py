"""``iotpipe bench --scale`` in its short form, as a user runs it: a private 3-broker stack
of its own (never the developer's), every point measured, scale.json and scale.png
written, the stack gone afterwards. Each point must have moved data: the sink stored
exactly the pre-filled readings (counted in the database) for every replica count, and
ingest's readings landed in Kafka for every worker count. No figure is held to a value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iotpipe.bench.scale import worker_counts

# heavy: 2 min with its private stack (125 s on the CI run of 2026-12-06, which passed);
# run by nox -s heavy, out of CI's ~30 min budget.
pytestmark = [pytest.mark.slow, pytest.mark.heavy, pytest.mark.timeout(900)]

PREFILL = 5000
GROUPS = {"kafka", "registry", "database", "bench", "machine", "steal", "other"}


def test_the_short_scale_run_measures_every_point_and_tears_its_stack_down(
    tmp_path: Path,
) -> None:
    stack_dir, output = tmp_path / "stack", tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "iotpipe", "bench", "--scale", "--seconds", "3",
         "--prefill", str(PREFILL), "--output", str(output), "--stack-dir", str(stack_dir)],
        capture_output=True, text=True, timeout=850, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert not stack_dir.exists()  # torn down and wiped
    assert (output / "scale.png").read_bytes().startswith(b"\x89PNG")
    result = json.loads((output / "scale.json").read_text())

    plan = result["plan"]
    assert (plan["brokers"], plan["partitions"]) == (3, 6)
    assert (plan["replication_factor"], plan["min_insync_replicas"]) == (3, 2)
    assert result["machine"]["cores"] == os.cpu_count()
    assert result["limits"]["bare_producer_readings_per_s"] > 0
    assert result["limits"]["bare_db_docs_per_s"] > 0
    assert sum(result["partition_records"]) == PREFILL
    assert set(result["idle_cpu"]) == GROUPS

    sink = result["sink"]
    assert [p["replicas"] for p in sink] == [1, 2, 3]
    for point in sink:
        assert point["stored"] == point["expected"] == PREFILL, point
        assert 0 <= point["uncommitted"] <= PREFILL
        assert point["docs_per_s"] > 0
        assert set(point["cpu"]) == GROUPS | {"sink"}
        assert point["reading"]

    ingest = result["ingest"]
    assert [p["workers"] for p in ingest] == list(worker_counts(os.cpu_count() or 1))
    for point in ingest:
        for kind in ("batch", "single"):
            phase = point[kind]
            assert phase["readings_per_s"] > 0, (point["workers"], kind)
            assert phase["records_in_topic"] > 0, (point["workers"], kind)
            assert set(phase["cpu"]) == GROUPS | {"ingest", "loadgen"}
            assert phase["cpu"]["ingest"] > 0

    curve = result["curve"]
    assert [p["replicas"] for p in curve["sink"]] == [1, 2, 3]
    assert curve["sink"][0]["speedup"] == 1.0
    assert "sink x3" in done.stdout  # the table
