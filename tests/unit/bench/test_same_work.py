"""The sink against the Kafka Connect peer, like with like: the ratio, the rows the bench
report prints (the peer, ours as deployed, ours doing the peer's work, what differs) and
the sink-only table. (The stored documents are compared by
tests/integration/bench/test_fair_sink_peer.py.)"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from iotpipe.bench import report, same_work
from tests.unit.bench.test_bench import figures, line, printed, result

PEER = {"name": "Kafka Connect + MongoDB sink connector", "sink_docs_per_s": 5000.0}


def text(table: Table) -> list[str]:
    console = Console(record=True, width=400)
    console.print(table)
    return console.export_text().splitlines()


def test_like_with_like_is_ours_doing_the_same_work_over_the_peer() -> None:
    done = result(peers={"kafka_connect": PEER}, sink_same_work_docs_per_s=7000.0)
    assert done["ratios"]["sink_same_work_vs_kafka_connect"] == 7000 / 5000
    assert done["ratios"]["sink_vs_kafka_connect"] == 6000 / 5000  # as deployed
    assert (
        result(peers={"kafka_connect": PEER})["ratios"]["sink_same_work_vs_kafka_connect"] is None
    )


def test_the_report_prints_the_three_figures_and_what_differs() -> None:
    lines = printed(result(peers={"kafka_connect": PEER}, sink_same_work_docs_per_s=7000.0))
    assert "6,000 docs/s" in line(lines, "sink as deployed")
    same = line(lines, "like with like")
    assert "7,000 docs/s" in same and "(same documents) 5,000 docs/s" in same and "1.40" in same
    differing = [x for x in lines if "differs from the peer" in x]
    assert len(differing) == len(same_work.DIFFERENCES)
    for field in ("stored_time", "source", "_id", "rollups", "delivered again"):
        assert any(field in x for x in differing), field


def test_without_the_peer_no_like_with_like_rows() -> None:
    lines = printed(result(sink_same_work_docs_per_s=7000.0))
    assert not [x for x in lines if "like with like" in x or "differs from the peer" in x]


def test_the_sink_only_table_gives_each_round_and_the_medians() -> None:
    rounds: dict[str, Any] = {"full": [6000.0], "same_work": [7000.0], "peer": [5000.0]}
    found = {"figures": figures(peers={"kafka_connect": PEER}, sink_same_work_docs_per_s=7000.0),
             "rounds": rounds}  # fmt: skip
    lines = text(same_work.table(found))
    assert "7,000 docs/s" in line(lines, "rounds: same_work")
    assert "1.40" in line(lines, "like with like")


def test_the_fields_claimed_equal_are_the_readings_fields() -> None:
    from generated.models import SensorReading  # noqa: PLC0415

    assert set(same_work.EQUAL_FIELDS) == set(SensorReading.model_fields)
    assert not set(same_work.EQUAL_FIELDS) & set(same_work.SAME_TYPE_FIELDS)
    assert report.sink_same_work_vs_kafka_connect({"peers": {}}) is None
