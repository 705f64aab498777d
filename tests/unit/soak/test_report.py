"""The soak's table and files, from a result shaped like run_soak's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from iotpipe.soak import report


def result(*, passed: bool = True) -> dict[str, Any]:
    samples = [
        {"t_s": t, "rss_mb": {"ingest": 110.0 + t / 600, "sink": 100.0, "stack kafka": 700.0},
         "lag": 40, "sent": int(t * 5), "load_errors": 0, "ingest_non_2xx": 0}
        for t in (0.0, 60.0, 120.0, 180.0)
    ]  # fmt: skip
    process = {"start_mb": 110.0, "end_mb": 110.2, "slope_mb_per_min": 0.1, "growth_mb": 0.2,
               "growth_ratio": 0.002, "flat": True}  # fmt: skip
    return {
        "plan": {"minutes": 3.0, "warmup_s": 60.0},
        "achieved_readings_per_s": 500.0,
        "processes": {
            "ingest": {**process, "judged": True},
            "sink": {**process, "judged": True},
            "stack kafka": {**process, "flat": False, "judged": False},
        },
        "load": {
            "sent": 900,
            "errors": 0,
            "cpu_share": 0.03,
            "statuses": {"202": 900},
            "failed": 0,
            "skipped": 0,
        },
        "ingest_non_2xx": 0,
        "dead_letters": 0,
        "lag_max": 1200,
        "p99_ms_max": 85.0,
        "lag_at_stop": 40,
        "lag_slope_per_min": 12.0,
        "lag_to_zero_s": 3.5,
        "verdict": {"passed": passed, "failures": [] if passed else ["sink RSS not flat: ..."]},
        "samples": samples,
        "machine": {"cores": 2},
    }


def render(data: dict[str, Any]) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(report.table(data))
    return console.export_text()


def test_table_shows_each_process_errors_lag_and_the_verdict() -> None:
    text = render(result())
    expected_parts = (
        "ingest", "110.0 MB", "+0.10 MB/min", "grows (info)", "max 1,200", "to zero 3.5 s",
        "+12 /min", "85 ms", "PASS", "requests sent 900",
    )  # fmt: skip
    for expected in expected_parts:
        assert expected in text, expected


def test_a_failed_run_says_why() -> None:
    data = result(passed=False)
    data["lag_to_zero_s"] = None
    data["load"] = {**data["load"], "statuses": {"202": 890, "503": 4}, "failed": 1, "skipped": 5}
    text = render(data)
    assert "4 non-2xx, 1 without an answer, 5 not sent" in text
    assert "FAIL" in text
    assert "timed out" in text
    assert "sink RSS not flat" in text


def test_write_keeps_the_samples_and_draws_the_chart(tmp_path: Path) -> None:
    data, chart = report.write(result(), tmp_path / "soak")
    assert json.loads(data.read_text())["samples"][3]["t_s"] == 180.0
    assert chart.read_bytes().startswith(b"\x89PNG")
