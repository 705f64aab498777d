"""``iotpipe bench --scale``'s pure parts: the plan, the drain rates from stored times, the
CPU accounting over /proc readings, and the curve, readings, table and files built from
a made-up result. (The run itself: tests/integration/bench/test_scale.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from iotpipe.bench import scale_report
from iotpipe.bench.cpu import (
    Group,
    ProcessTimes,
    cpu_shares,
    parse_proc_stat,
    parse_stat_line,
    snapshot,
    tree,
)
from iotpipe.bench.scale import (
    build_plan,
    default_scale_state_dir,
    drain_rates,
    private_stack,
    worker_counts,
)
from iotpipe.errors import ConfigError
from iotpipe.stack.settings import default_state_dir
from iotpipe.topics import TopicSettings

pytestmark = pytest.mark.unit

CLUSTER = TopicSettings(partitions=6, replication_factor=3, min_insync_replicas=2)


# -- the plan ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cores", "expected"),
    [(1, (1, 2)), (2, (1, 2, 4)), (4, (1, 2, 4)), (8, (1, 2, 8))],
)
def test_worker_counts_are_one_two_and_one_per_core_and_four_on_two_cores(
    cores: int, expected: tuple[int, ...]
) -> None:
    assert worker_counts(cores) == expected


def test_worker_counts_refuse_no_cores() -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        worker_counts(0)


def test_plan_on_three_brokers_measures_one_to_three_sink_replicas_on_the_cluster_topics() -> None:
    plan = build_plan(seconds=10, prefill=60_000, cores=2, brokers=3, topics=CLUSTER)
    assert plan.sink_replicas == (1, 2, 3)
    assert plan.ingest_workers == (1, 2, 4)
    assert (plan.partitions, plan.replication_factor, plan.min_insync_replicas) == (6, 3, 2)
    assert (plan.seconds, plan.prefill, plan.brokers) == (10, 60_000, 3)


@pytest.mark.parametrize(
    ("seconds", "prefill", "topics", "message"),
    [
        (0.5, 5000, CLUSTER, "--seconds must be at least 1"),
        (3, 5, CLUSTER, "--prefill must be at least the topic's 6 partitions"),
        (3, 5000, TopicSettings(2, 3, 2), "3 sink replicas need at least as many partitions"),
    ],
)
def test_bad_plans_are_refused_saying_why(
    seconds: float, prefill: int, topics: TopicSettings, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        build_plan(seconds=seconds, prefill=prefill, cores=2, brokers=3, topics=topics)


def test_the_private_stack_never_uses_the_developers_folder() -> None:
    with pytest.raises(ConfigError, match="local stack's folder"):
        private_stack(default_state_dir(), brokers=3)
    assert default_scale_state_dir() != default_state_dir()


def test_the_private_stack_has_a_block_of_two_ports_per_broker(tmp_path: Path) -> None:
    stack = private_stack(tmp_path / "stack", brokers=3)
    layout = stack.layout()
    assert layout.brokers == 3
    ports = [port for _, port in layout.all_ports()]
    assert len(ports) == len(set(ports)) == 3 * 2 + 3
    assert [n.port for n in layout.kafka_nodes] == [layout.kafka_port + 2 * i for i in range(3)]


# -- drain rates ---------------------------------------------------------------------------
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def stamps(per_batch: int, batches: int, every: float, start: datetime = T0) -> list[datetime]:
    return [start + timedelta(seconds=i * every) for i in range(batches) for _ in range(per_batch)]


def test_drain_rate_counts_the_whole_drain_plus_one_batch() -> None:
    # 10 batches of 100, 1 s apart: 9 s between first and last, 10 s with the last batch.
    whole, steady = drain_rates(stamps(100, 10, 1.0), None)
    assert whole == pytest.approx(100.0)
    assert steady is None


def test_steady_rate_starts_when_every_replica_held_its_partitions() -> None:
    # A slow start (one replica, 10 docs/s for 10 s), then 100 docs/s for 20 s.
    slow = stamps(10, 10, 1.0)
    fast = stamps(100, 20, 1.0, start=T0 + timedelta(seconds=10))
    whole, steady = drain_rates(slow + fast, T0 + timedelta(seconds=10))
    assert whole < 80
    assert steady == pytest.approx(100.0, rel=0.1)


def test_no_steady_rate_when_the_drain_was_mostly_over_before_the_join() -> None:
    times = stamps(100, 10, 1.0)
    assert drain_rates(times, T0 + timedelta(seconds=9))[1] is None
    whole, steady = drain_rates([], T0)
    assert whole != whole and steady is None  # noqa: PLR0124 - nan: nothing stored


# -- CPU -----------------------------------------------------------------------------------
def test_a_stat_line_whose_command_holds_spaces_and_parentheses() -> None:
    line = "4242 (java (kafka) x) S 17 4242 4242 0 -1 4194560 1 0 0 0 350 25 4 1 20 0 60 0 9"
    assert parse_stat_line(line) == ProcessTimes(ppid=17, ticks=375)


def test_proc_stat_first_line() -> None:
    text = "cpu  100 5 50 1000 20 3 2 7 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"
    assert parse_proc_stat(text) == (160, 1020, 7)


def test_a_snapshot_of_this_machine_holds_this_process() -> None:
    import os  # noqa: PLC0415

    found = snapshot()
    assert os.getpid() in found
    assert found[os.getpid()].ppid == os.getppid()


def test_tree_takes_every_process_below_the_roots_and_only_those() -> None:
    procs = {
        1: ProcessTimes(0, 0),
        10: ProcessTimes(1, 0),
        11: ProcessTimes(10, 0),
        12: ProcessTimes(11, 0),
        20: ProcessTimes(1, 0),
    }
    assert tree([10], procs) == {10, 11, 12}
    assert tree([20, 99], procs) == {20}  # a root that is gone is left out


def test_cpu_shares_per_group_in_cores_with_the_rest_of_the_machine_as_other() -> None:
    before = {1: ProcessTimes(0, 0), 10: ProcessTimes(1, 100), 11: ProcessTimes(10, 50)}
    # Over 2 s at 100 ticks/s: the database (10, and its child 11) used 150 ticks, and a
    # worker born meanwhile (12, below 10) 50 more; the bench (1, alone) 20.
    after = {
        1: ProcessTimes(0, 20),
        10: ProcessTimes(1, 200),
        11: ProcessTimes(10, 100),
        12: ProcessTimes(10, 50),
    }
    groups = [
        Group("database", lambda: [10]),
        Group("bench", lambda: [1], descendants=False),
        Group("gone", lambda: [99]),
    ]
    shares = cpu_shares(
        groups, before, after, (1000, 0, 0), (1390, 0, 10), 2.0,
        extra={"wrk": 0.25}, ticks_per_s=100,
    )  # fmt: skip
    assert shares == {
        "database": 1.0,
        "bench": 0.1,
        "gone": 0.0,
        "wrk": 0.25,
        "machine": 1.95,
        "steal": 0.05,
        "other": 0.6,
    }


# -- curve, readings, table, files ---------------------------------------------------------
def cpu(**groups: float) -> dict[str, float]:
    return {"kafka": 0.2, "registry": 0.0, "database": 0.5, "bench": 0.0, **groups}


def fake_result() -> dict[str, Any]:
    def ingest(workers: int, batch: float, single: float) -> dict[str, Any]:
        def phase(rate: float, requests: float) -> dict[str, Any]:
            return {
                "readings_per_s": rate, "requests_per_s": requests, "p50_ms": 5.0,
                "p99_ms": 20.0, "non2xx": 0, "errors": 0, "records_in_topic": int(rate * 3),
                "cpu": cpu(ingest=0.8 * workers, wrk=0.3, machine=min(2.0, 1.0 + workers / 2)),
            }  # fmt: skip

        return {
            "workers": workers,
            "batch": phase(batch, batch / 1000),
            "single": phase(single, single),
        }

    def sink(replicas: int, rate: float) -> dict[str, Any]:
        return {
            "replicas": replicas, "docs_per_s": rate, "drain_docs_per_s": rate * 0.9,
            "steady_docs_per_s": rate, "all_assigned_after_s": 1.5, "expected": 60_000,
            "stored": 60_000,
            "cpu": cpu(sink=0.6 * replicas, database=0.95, machine=1.2 + 0.3 * replicas),
        }  # fmt: skip

    return {
        "kind": "scale",
        "started": "2025-01-01T00:00:00+00:00",
        "plan": {
            "brokers": 3,
            "partitions": 6,
            "replication_factor": 3,
            "min_insync_replicas": 2,
            "batch_size": 1000,
        },
        "machine": {"cores": 2},
        "limits": {
            "bare_producer_readings_per_s": 100_000.0,
            "bare_producer_cpu": cpu(bench=0.9, kafka=0.7, machine=1.7),
            "bare_db_docs_per_s": 8000.0,
            "bare_db_cpu": cpu(database=0.98, bench=0.3, machine=1.4),
        },
        "sink": [sink(1, 4000.0), sink(2, 6000.0), sink(3, 6000.0)],
        "ingest": [
            ingest(1, 20_000.0, 3000.0),
            ingest(2, 30_000.0, 5000.0),
            ingest(4, 27_000.0, 4500.0),
        ],
    }


def test_the_reading_names_cpu_bound_and_the_groups_that_used_most() -> None:
    assert scale_report.reading(cpu(sink=0.7, machine=1.9, other=0.4), 2) == (
        "CPU-bound: 1.90 of 2 cores busy; most: sink 0.70, database 0.50, other 0.40"
    )
    assert scale_report.reading({"machine": 0.5, "database": 0.45}, 2).startswith(
        "CPU to spare: 0.50 of 2 cores busy; most: database 0.45"
    )


def test_the_curve_holds_speedups_over_the_first_point_and_shares_of_the_limits() -> None:
    found = scale_report.curve(fake_result())
    assert [(p["replicas"], p["speedup"], p["vs_bare_db"]) for p in found["sink"]] == [
        (1, 1.0, 0.5),
        (2, 1.5, 0.75),
        (3, 1.5, 0.75),
    ]
    assert [(p["workers"], p["batch_speedup"], p["single_speedup"]) for p in found["ingest"]] == [
        (1, 1.0, 1.0),
        (2, 1.5, 1.667),
        (4, 1.35, 1.5),
    ]
    assert found["ingest"][1]["batch_vs_bare_producer"] == 0.3
    # per core the pipeline used: the sink x2 used kafka 0.2 + database 0.95 + sink 1.2.
    assert found["sink"][1]["per_pipeline_core"] == round(6000 / 2.35)
    # ingest x1 batch: kafka 0.2 + database 0.5 + ingest 0.8 (wrk and the rest left out).
    assert found["ingest"][0]["batch_per_pipeline_core"] == round(20_000 / 1.5)


def test_per_core_leaves_out_the_load_generator_the_bench_and_other_work() -> None:
    used = {"kafka": 0.5, "ingest": 1.0, "wrk": 0.3, "bench": 0.1, "other": 0.4,
            "machine": 2.0, "steal": 0.1}  # fmt: skip
    assert scale_report.pipeline_cores(used) == 1.5
    assert scale_report.per_core(3000.0, used) == 2000
    assert scale_report.per_core(3000.0, {"machine": 1.0, "other": 1.0}) is None


def test_summarize_adds_a_reading_to_every_point_and_limit() -> None:
    result = scale_report.summarize(fake_result())
    assert result["curve"]["sink"][2]["speedup"] == 1.5
    assert result["sink"][2]["reading"].startswith("CPU-bound: 2.10 of 2 cores")
    assert result["ingest"][0]["batch"]["reading"].startswith("CPU to spare: 1.50 of 2")
    assert result["limits"]["bare_db_reading"].startswith("CPU to spare: 1.40 of 2")


def test_the_table_has_a_row_per_limit_and_point() -> None:
    result = scale_report.summarize(fake_result())
    console = Console(record=True, width=250)
    console.print(scale_report.table(result))
    text = console.export_text()
    for row in ("bare producer, one process (limit)", "bare inserts (limit)", "sink x1", "sink x3",
                "ingest batch 1000, 4 workers", "ingest single, 2 workers"):  # fmt: skip
        assert row in text
    assert "6,000/s" in text
    assert "1.50x" in text


def test_write_leaves_scale_json_and_a_png(tmp_path: Path) -> None:
    result = scale_report.summarize(fake_result())
    data, chart = scale_report.write(result, tmp_path / "out")
    assert (data.name, chart.name) == ("scale.json", "scale.png")
    assert json.loads(data.read_text())["curve"] == result["curve"]
    assert chart.read_bytes().startswith(b"\x89PNG")
