"""The old consumers' run counted as it is read: what it printed counted per reading and
per writer schema id, only a small summary of it written (a full run prints hundreds of MB)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iotpipe.chaos.rollout import consumers
from iotpipe.chaos.rollout.consumers import read_with
from iotpipe.interop import Program

PRINTED = [  # writer id, event id, value, the field (None: absent)
    (1, "e0", 0.5, None),
    (1, "e1", 1.5, None),
    (2, "e2", 2.5, 3.7),
    (2, "e3", 3.5, None),
    (1, "e0", 0.5, None),  # printed twice
]


class Printed(Program):
    """A consumer whose output is given: no process."""

    def consume(self, **flags: Any) -> Iterator[dict[str, Any]]:
        for schema_id, event_id, value, field in PRINTED:
            reading: dict[str, Any] = {"event_id": event_id, "value": value}
            if field is not None:
                reading["battery_v"] = field
            yield {"schema_id": schema_id, "reading": reading}


def test_what_a_consumer_printed_is_counted_and_summarised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(consumers.CONSUMERS, "fake", lambda: Printed("fake", ("fake",), "-"))
    summary = tmp_path / "old-consumer-fake.json"
    run = read_with(
        "fake",
        kafka="k",
        registry="r",
        topic="t",
        count=5,
        schema=tmp_path / "old.avsc",
        field="battery_v",
        summary=summary,
    )
    assert run.readings == Counter(
        {("e0", 1, 0.5): 2, ("e1", 1, 1.5): 1, ("e2", 2, 2.5): 1, ("e3", 2, 3.5): 1}
    )
    assert run.with_field == 1
    written = json.loads(summary.read_text())
    assert written["printed"] == 5 and written["distinct"] == 4
    assert written["per_writer_schema_id"] == {"1": 3, "2": 2}
    assert written["with_battery_v"] == 1
    assert written["first"] == {"schema_id": 1, "reading": {"event_id": "e0", "value": 0.5}}
    assert summary.stat().st_size < 1000
    assert [p.name for p in tmp_path.iterdir()] == [summary.name]  # nothing else written
