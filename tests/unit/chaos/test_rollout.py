"""The rollout scenarios' parts that need no process: the schema change, the clients'
routing of the new field, the rotation a rollout drains, and the count per version."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from typing import Any

import pytest

from iotpipe.chaos.ledger import Ledger
from iotpipe.chaos.report import VERSION_COLUMNS, markdown, versions_table
from iotpipe.chaos.rollout.accounting import TopicRecords, by_version
from iotpipe.chaos.rollout.clients import NEW, OLD, RolloutClients
from iotpipe.chaos.rollout.version import FIELD, SCHEMA_CHANGE, with_field
from iotpipe.chaos.targets import Targets
from iotpipe.chaos.verdict import Accounting, judge
from iotpipe.contract.catalog import Contract


def _reading(event_id: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "value": 1.0, **extra}


def test_the_change_appends_one_optional_field_and_leaves_the_schema_given_alone() -> None:
    schema = Contract.load().by_name("SensorReading").schema
    before = copy.deepcopy(schema)
    changed = with_field(schema)
    assert schema == before
    assert changed["fields"][:-1] == schema["fields"]
    assert changed["fields"][-1] == SCHEMA_CHANGE
    assert SCHEMA_CHANGE["type"] == ["null", "double"] and SCHEMA_CHANGE["default"] is None
    with pytest.raises(ValueError, match=FIELD):
        with_field(changed)
    json.dumps(changed)  # still a JSON schema file's content


def test_clients_send_the_field_only_to_a_new_replica_and_only_on_a_first_send() -> None:
    clients = RolloutClients(["http://old"], share=1.0)
    old = clients.replicas[0]
    readings = [_reading("a"), _reading("b")]
    assert clients.route(readings, [True, True]) is old
    assert all(FIELD not in r for r in readings)  # an old replica: never
    clients.done(old)
    new = clients.add("http://new", NEW)
    clients.drain(old, 1)
    assert clients.route(readings, [False, True]) is new
    assert FIELD not in readings[0]  # sent before without it: stays without
    assert readings[1][FIELD] == clients.sent_field["b"]
    assert set(clients.sent_field) == {"b"}


def test_a_reading_carrying_the_field_waits_for_a_new_replica() -> None:
    clients = RolloutClients(["http://old"])
    carrying = [_reading("c", **{FIELD: 3.7})]
    assert clients.route(carrying, [False]) is None  # an old ingest would answer 422
    assert clients.route([_reading("d")], [False]) is clients.replicas[0]
    new = clients.add("http://new", NEW)
    assert clients.route(carrying, [False]) is new


def test_about_half_of_the_fresh_readings_carry_the_field() -> None:
    clients = RolloutClients(["http://new"])
    clients.replicas[0].version = NEW
    readings = [_reading(str(i)) for i in range(2000)]
    clients.route(readings, [True] * len(readings))
    assert 900 < len(clients.sent_field) < 1100
    assert all(3.3 <= v <= 4.2 for v in clients.sent_field.values())


def test_drain_takes_a_replica_out_of_rotation_and_waits_for_its_requests() -> None:
    targets = Targets(["http://a", "http://b"])
    a, b = targets.replicas
    picked = [targets.route([_reading(str(i))], [True]) for i in range(4)]
    assert {id(r) for r in picked} == {id(a), id(b)}  # in turn
    drained: list[bool] = []
    waiter = threading.Thread(target=lambda: drained.append(targets.drain(a, 5)))
    waiter.start()
    time.sleep(0.2)
    assert not drained  # two of a's requests still in flight
    assert all(targets.route([_reading("x")], [True]) is b for _ in range(3))
    for replica in picked:
        if replica is a:
            targets.done(a)
    waiter.join(5)
    assert drained == [True]
    assert targets.in_rotation() == [b]
    assert not targets.drain(b, 0.1)  # b has requests in flight that never end


def test_the_ledger_says_a_first_send_and_who_acknowledged() -> None:
    ledger = Ledger()
    assert ledger.sent("e", bad=False)
    assert not ledger.sent("e", bad=False)
    ledger.settle("e", "acknowledged", by=NEW)
    ledger.settle("f", "acknowledged")
    assert ledger.acknowledged_by == {"e": NEW}
    assert ledger.retries == 1


def _topic(*records: tuple[str, int]) -> TopicRecords:
    return TopicRecords([(event_id, schema_id, 1.0) for event_id, schema_id in records])


def test_counting_by_version() -> None:
    rows = by_version(
        schema_ids={OLD: 2, NEW: 3},
        acknowledged_by={"o1": OLD, "o2": OLD, "n1": NEW, "n2": NEW, "n3": NEW, "n4": NEW},
        stored=Counter({"o1": 1, "o2": 2, "n1": 1, "n2": 1, "n3": 1}),
        stored_values={"n1": 3.71, "n2": 3.9, "o2": 4.0},
        topic=_topic(("o1", 2), ("o2", 2), ("n1", 3), ("n2", 2), ("n3", 3), ("n4", 3), ("x", 3)),
        sent_field={"n1": 3.71, "n2": 3.8, "n4": 4.1},
        field_name=FIELD,
    )
    old, new = rows
    assert set(old) == {*VERSION_COLUMNS, "field"}
    assert old == {
        "version": OLD,
        "writer_schema_id": 2,
        "acknowledged": 2,
        "in_topic": 3,  # n2's record carries the old id
        "stored": 2,
        "lost": 0,
        "duplicated": 1,  # o2 stored twice
        "other_writer": 0,
        "field_sent": 0,
        "field_as_sent": 0,
        "field_where_not_sent": 1,  # o2 has a value nobody sent
        "field": FIELD,
    }
    assert new["acknowledged"] == 4
    assert new["in_topic"] == 4
    assert (new["stored"], new["lost"], new["duplicated"]) == (3, 1, 0)  # n4 lost
    assert new["other_writer"] == 1  # n2: acknowledged by a new ingest, only an old id in Kafka
    assert (new["field_sent"], new["field_as_sent"]) == (3, 1)  # n2 changed, n4 lost
    assert new["field_where_not_sent"] == 0


def test_a_rollouts_table_per_version_is_in_the_report() -> None:
    ledger = Ledger()
    ledger.sent("e", bad=False)
    ledger.settle("e", "acknowledged", by=OLD)
    row = {k: 0 for k in VERSION_COLUMNS} | {"version": OLD, "writer_schema_id": 7}
    accounting = Accounting(
        checks={"held": True}, notes=["ingest rolled in 3 s"], rows=[row | {"field": FIELD}]
    )
    result = judge("rollout-x", ledger, Counter({"e": 1}), {}, 1.0, accounting=accounting)
    assert result.passed and result.versions == accounting.rows
    assert "ingest rolled in 3 s" in result.notes and result.checks["held"]
    page = markdown([result])
    assert "rollout-x, per schema version:" in page
    header = " | ".join(h.format(field=FIELD) for h in VERSION_COLUMNS.values())
    assert f"| {header} |" in page and f"| {FIELD} sent |" in page
    assert "| old | 7 | 0 |" in page
    assert versions_table(result) is not None
    plain = judge("other", ledger, Counter({"e": 1}), {}, 1.0)
    assert versions_table(plain) is None and "per schema version" not in markdown([plain])
