"""The published examples' fixed instants, served as instants relative to the request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from ingest.api.examples import ExampleTimes, contract_example_times
from iotpipe.contract.catalog import Contract
from iotpipe.paths import REPO_DIR

NOW = datetime(2031, 5, 17, 8, 30, 15, 987_000, tzinfo=UTC)


def test_the_contract_example_time_is_served_as_now_and_others_keep_their_distance() -> None:
    times = ExampleTimes(Contract.load(), clock=lambda: NOW)
    anchor = contract_example_times(Contract.load())
    assert anchor == ["2026-11-28T12:00:00Z"]  # both record types' event_time example
    hour_before = times.at(-timedelta(hours=1))
    assert hour_before == "2026-11-28T11:00:00Z"
    document = json.dumps({"a": anchor[0], "b": [hour_before, "2026-11-28T12:00:01Z"]})
    served = json.loads(times.serve(document.encode()))
    assert served == {
        "a": "2031-05-17T08:30:15Z",
        "b": ["2031-05-17T07:30:15Z", "2026-11-28T12:00:01Z"],  # unknown instants stay
    }


def test_a_replacement_is_never_replaced_again() -> None:
    """With the clock a day after the example time, the day before now is the example
    time itself: replaced in one pass, it is not moved a second time."""
    day_after = datetime(2026, 11, 29, 12, tzinfo=UTC)
    times = ExampleTimes(Contract.load(), clock=lambda: day_after)
    before = times.at(-timedelta(days=1))  # 2026-11-27T12:00:00Z, served as 11-28T12
    served = times.serve(f"{before} 2026-11-28T12:00:00Z".encode()).decode()
    assert served == "2026-11-28T12:00:00Z 2026-11-29T12:00:00Z"


def test_served_documents_differ_from_the_committed_ones_in_their_times_only(
    client: TestClient,
) -> None:
    generated = REPO_DIR / "generated"
    served = client.get("/v1/schemas/SensorReading/example").json()
    committed = json.loads((generated / "examples/dev.iotpipe.SensorReading.json").read_text())
    event_time = datetime.fromisoformat(served.pop("event_time"))
    assert abs(event_time - datetime.now(UTC)) < timedelta(minutes=1)
    committed.pop("event_time")
    assert served == committed
    document = client.get("/openapi.json").json()
    built = client.app.openapi()  # type: ignore[attr-defined]
    text, fixed = json.dumps(document), json.dumps(built)
    assert "2026-11-28T12:00:00Z" in fixed
    assert "2026-11-28T12:00:00Z" not in text
    assert len(text) == len(fixed)  # same shape: instants of the same length swapped
    assert document["paths"].keys() == built["paths"].keys()
