"""The generated dashboards and alert rules: current, valid, wired to the provisioned
datasources, driven by the contract; no database needed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

from ingest.metrics import IngestMetrics
from iotpipe.contract.catalog import Contract, RecordType
from iotpipe.dashboards import render
from iotpipe.dashboards.kinds import GRAFANA_DIR, load_alert_settings, sensor_kinds
from iotpipe.dashboards.macros import interpolate, parse_pipeline, variable_names
from iotpipe.dashboards.probe import (
    check,
    committed_queries,
    expand_provisioning,
    joined,
    specs,
)
from iotpipe.errors import ContractError
from sink.health import SinkMetrics

# Names Grafana itself defines in queries and titles.
GLOBALS = {"__from", "__to", "__rate_interval", "__interval", "__all"}


def dashboards() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted((GRAFANA_DIR / "dashboards").glob("*.json")):
        yield path, json.loads(path.read_text())


def provisioned_datasources() -> dict[str, str]:
    found = {}
    for path in (GRAFANA_DIR / "provisioning" / "datasources").glob("*.yaml"):
        for source in yaml.safe_load(path.read_text())["datasources"]:
            found[source["uid"]] = source["type"]
    return found


def test_committed_files_are_what_generation_gives() -> None:
    assert render.check(Contract.load()) == []


def test_the_dashboards_load_as_grafana_dashboard_models() -> None:
    uids = set()
    for path, raw in dashboards():
        model = Dashboard.from_json(raw)
        assert model.uid == raw["uid"] == path.stem
        assert model.title and raw["schemaVersion"] >= 36
        uids.add(model.uid)
        ids = [p["id"] for p in raw["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in raw["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, (path.name, panel["title"])
            assert grid["h"] > 0
    assert uids == {"iotpipe-fleet", "iotpipe-device", "iotpipe-pipeline", "iotpipe-cluster"}


def test_every_query_uses_a_provisioned_datasource_of_its_type() -> None:
    sources = provisioned_datasources()
    assert sources == {
        "iotpipe-mongodb": "haohanyang-mongodb-datasource",
        "iotpipe-prometheus": "prometheus",
    }
    for path, raw in dashboards():
        for panel in raw["panels"]:
            for ref in [panel.get("datasource")] + [
                t["datasource"] for t in panel.get("targets", [])
            ]:
                if ref is not None:
                    assert sources.get(ref["uid"]) == ref["type"], (path.name, panel["title"])
            if panel["type"] != "row":
                assert panel.get("targets"), f"{path.name}: {panel['title']} has no query"


def test_every_variable_used_is_defined_and_no_field_path_is_taken_for_one() -> None:
    for path, raw in dashboards():
        defined = {v["name"] for v in raw.get("templating", {}).get("list", [])}
        texts = [json.dumps(p) for p in raw["panels"]]
        texts += [json.dumps(v.get("query")) for v in raw.get("templating", {}).get("list", [])]
        used = set().union(*(variable_names(t) for t in texts))
        mongo_words = {n for n in used if n not in defined and n not in GLOBALS}
        # What is left must be MongoDB operators or field paths: lower-case $match,
        # $sum, $minute... and never a name a dashboard variable would shadow.
        for name in mongo_words:
            assert re.fullmatch(r"[a-z][A-Za-z_]*", name), f"{path.name}: ${name}"
        for variable in defined:
            assert variable in used, f"{path.name}: variable {variable} is never used"


def test_sensor_kinds_come_from_the_contract() -> None:
    contract = Contract.load()
    [fleet] = [raw for path, raw in dashboards() if raw["uid"] == "iotpipe-fleet"]
    [kind] = [v for v in fleet["templating"]["list"] if v["name"] == "kind"]
    assert kind["query"].split(",") == sensor_kinds(contract)

    reading = contract.by_name("SensorReading")
    schema = json.loads(json.dumps(reading.schema))
    for item in schema["fields"]:
        if item["name"] == "sensor_kind":
            item["type"]["symbols"].insert(-1, "RADIATION")
    grown = Contract(
        tuple(
            RecordType(schema_file=t.schema_file, schema=schema, topic=t.topic)
            if t.name == "SensorReading"
            else t
            for t in contract.record_types
        )
    )
    regenerated = render.render(grown)[Path("dashboards/iotpipe-fleet.json")]
    assert "RADIATION" in json.loads(regenerated)["templating"]["list"][1]["query"]


def test_alert_settings_refuse_a_kind_the_contract_lacks(tmp_path: Path) -> None:
    bad = tmp_path / "alert-settings.yaml"
    bad.write_text("ranges:\n  TEMPRATURE: {min: 0, max: 1}\n")
    with pytest.raises(ContractError, match="TEMPRATURE"):
        load_alert_settings(Contract.load(), bad)
    bad.write_text("ranges:\n  TEMPERATURE: {min: 5, max: 1}\n")
    with pytest.raises(ContractError, match="not below"):
        load_alert_settings(Contract.load(), bad)


def test_alert_rules_file_reads_back_to_the_generated_queries() -> None:
    raw = (GRAFANA_DIR / render.RULES_FILE).read_text()
    # Grafana expands $NAME from its environment: with any environment, nothing changes
    # but the $$ escapes.
    expanded = expand_provisioning(raw, {"match": "X", "labels": "Y", "__from": "Z"})
    groups = {g["name"]: g["rules"] for g in yaml.safe_load(expanded)["groups"]}
    rules = groups["iotpipe"]
    assert {r["uid"] for r in rules} == {"iotpipe-value-out-of-range", "iotpipe-device-silent"}
    known = specs(Contract.load())
    for rule in rules:
        refs = {d["refId"] for d in rule["data"]}
        assert rule["condition"] in refs
        queries = [d for d in rule["data"] if d["datasourceUid"] == "iotpipe-mongodb"]
        assert queries and all(q["model"]["queryText"] in known for q in queries)
    # Both rules name the device, its id and (when the registry gives one) location:
    # text columns of a query, which Grafana makes the alert's labels.
    summaries = {r["uid"]: r["annotations"]["summary"] for r in rules}
    for summary in summaries.values():
        assert "{{ $labels.name }} ({{ $labels.device_id }}" in summary
        assert "{{ with $labels.location }}, at {{ . }}{{ end }}" in summary

    def text_columns(uid: str, ref_id: str) -> set[str]:
        [model] = [
            d["model"] for r in rules if r["uid"] == uid for d in r["data"] if d["refId"] == ref_id
        ]
        return {k for k, kind in known[model["queryText"]].fields.items() if kind == "string"}

    assert text_columns("iotpipe-device-silent", "A") == {"device_id", "name", "location"}
    # Out of range: the minutes per device (A, labelled by the status document's _id)
    # joined by $A + $B to every device's name and location (B, the same _id and more).
    assert text_columns("iotpipe-value-out-of-range", "A") == {"_id"}
    assert text_columns("iotpipe-value-out-of-range", "B") == {
        "_id", "device_id", "name", "location"
    }  # fmt: skip
    [out] = [r for r in rules if r["uid"] == "iotpipe-value-out-of-range"]
    nodes = {d["refId"]: d["model"] for d in out["data"]}
    assert (nodes["C"]["type"], nodes["C"]["expression"]) == ("math", "$A + $B")
    assert (out["condition"], nodes["D"]["expression"]) == ("D", "C")
    assert (
        len(committed_queries()) == len({q.text for q in committed_queries()} | set())
        or len(committed_queries()) >= 15
    )


def test_prometheus_panels_name_metrics_ingest_and_sink_export() -> None:
    exported: set[str] = set()
    for registry in (IngestMetrics(lambda: 0).registry, SinkMetrics().registry):
        for family in registry.collect():  # labelled families have no sample yet
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
            exported.update(family.name + s for s in suffixes.get(family.type, [""]))
    for path, raw in dashboards():
        for panel in raw["panels"]:
            for target in panel.get("targets", []):
                if "expr" not in target:
                    continue
                for metric in re.findall(r"\b(iotpipe_\w+)", target["expr"]):
                    assert metric in exported, f"{path.name}: {panel['title']}: {metric}"


def test_interpolation_fills_time_and_variables_like_grafana() -> None:
    start = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    end = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
    text = (
        '[{"$match": {"d": "$device", "s": ${sensor:json}, '
        '"t": {"$gte": {"$date": {"$numberLong": "$__from"}}}}}]'
    )
    filled = interpolate(
        text, start=start, end=end, variables={"device": "a", "sensor": ["x", "y"]}
    )
    [stage] = parse_pipeline(filled)
    assert stage["$match"]["d"] == "a"
    assert stage["$match"]["s"] == ["x", "y"]
    assert stage["$match"]["t"]["$gte"] == start
    assert "$match" in filled and "$numberLong" in filled  # operators are left alone
    with pytest.raises(ValueError, match="array of stages"):
        parse_pipeline('{"$match": {}}')


def test_provisioning_expansion_turns_double_dollars_into_one() -> None:
    assert expand_provisioning("$$sum $HOME ${USER}", {"HOME": "/h"}) == "$sum /h "
    assert render.escape_dollars({"a": ["$x", 1]}) == {"a": ["$$x", 1]}


def test_paused_and_retired_devices_are_never_silent() -> None:
    """The silent alert and the fleet's silent count and list, as committed: each finds
    silent devices among those not paused or retired (``iotpipe devices pause|retire``)."""
    start = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    silent = {
        q.where: q
        for q in committed_queries()
        if q.where
        in {
            "alert iotpipe-device-silent A",
            "iotpipe-fleet: Devices silent for $silent_after",
            "iotpipe-fleet: Silent devices",
        }
    }
    assert len(silent) == 3
    for where, query in silent.items():
        filled = interpolate(query.text, start=start, end=start, variables={})
        first = parse_pipeline(filled)[0]["$match"]
        assert first["scope"] == "device", where
        assert first["last_seen"] == {"$lt": start}, where
        assert first["state"] == {"$nin": ["paused", "retired"]}, where
    # Devices reporting still counts a paused device that sends (it is not silent).
    reporting = next(
        q for q in committed_queries() if q.where == "iotpipe-fleet: Devices reporting"
    )
    assert "state" not in reporting.text


def panel(uid: str, title: str) -> dict[str, Any]:
    board = dict(dashboards())[GRAFANA_DIR / "dashboards" / f"{uid}.json"]
    found: list[dict[str, Any]] = [p for p in board["panels"] if p["title"] == title]
    assert len(found) == 1, title
    return found[0]


def test_the_fleet_map_places_devices_by_latitude_and_longitude() -> None:
    geo = panel("iotpipe-fleet", "Device locations and last values")
    assert geo["type"] == "geomap"
    assert geo["datasource"]["uid"] == "iotpipe-mongodb"
    [layer] = geo["options"]["layers"]
    assert layer["type"] == "markers"
    assert layer["location"] == {"mode": "coords", "latitude": "latitude", "longitude": "longitude"}
    assert layer["config"]["style"]["text"] == {"field": "name", "fixed": "", "mode": "field"}
    assert geo["options"]["basemap"]["type"] == "default"
    assert geo["options"]["tooltip"]["mode"] == "details"
    # The latest reading arrives as one JSON field: split into value, unit, sensor, time.
    [extract, organize] = geo["transformations"]
    assert extract["id"] == "extractFields" and extract["options"]["source"] == "latest"
    assert organize["options"]["excludeByName"] == {"latest": True}
    [target] = geo["targets"]
    assert target["collection"] == "device_status"
    stages = parse_pipeline(target["queryText"])
    assert stages[0]["$match"] == {"scope": "device", "latitude": {"$exists": True}}
    shown = stages[1]["$project"]
    assert {"name", "latitude", "longitude", "latest"} <= {k for k, v in shown.items() if v}


def test_device_panels_show_names_and_the_variable_labels_devices_by_name() -> None:
    board = dict(dashboards())[GRAFANA_DIR / "dashboards" / "iotpipe-device.json"]
    [device] = [v for v in board["templating"]["list"] if v["name"] == "device"]
    [stage] = [
        s["$project"] for s in parse_pipeline(device["query"]["queryText"]) if "$project" in s
    ]
    assert stage == {"_id": 0, "value": 1, "text": 1}  # the plugin: label "text", value "value"
    info = panel("iotpipe-device", "Device")
    assert info["options"]["reduceOptions"]["fields"] == "/^(name|location|device_id)$/"
    silent = panel("iotpipe-fleet", "Silent devices")
    shown = json.loads(silent["targets"][0]["queryText"])[1]["$project"]
    assert {"name", "location", "device_id"} <= set(shown)


def test_a_dotted_field_is_read_inside_the_document() -> None:
    """The map's latest reading is an embedded document: its spec names latest.value."""
    spec = next(s for s in specs(Contract.load()).values() if "latest.value" in s.fields)
    row = {
        "name": "Hafenkran",
        "device_id": "5a11000000000000000000a1",
        "latitude": 51.96,
        "longitude": 7.64,
        "latest": {"time": datetime(2026, 12, 1, tzinfo=UTC), "value": 12.0, "unit": "Cel"},
    }
    assert check(spec, [row]) == []
    assert check(spec, [{**row, "latest": {"value": "12"}}]) == [
        "field 'latest.value': expected number in every row, got string",
        "field 'latest.unit': expected string in every row, got None",
        "field 'latest.time': expected time in every row, got None",
    ]


def test_math_joins_rows_by_label_as_grafana_does() -> None:
    """probe.joined follows Grafana's mathexp union: equal labels, or one side's labels
    held by the other's (the larger set is kept); other pairs are dropped."""
    minutes = [{"_id": "device|a", "minutes": 2}, {"_id": "device|gone", "minutes": 1}]
    names = [
        {"_id": "device|a", "device_id": "a", "name": "Kran", "location": "1, 2", "joined": 0},
        {"_id": "device|b", "device_id": "b", "name": "b", "location": "", "joined": 0},
    ]
    assert joined(minutes, names) == [
        ({"_id": "device|a", "device_id": "a", "name": "Kran", "location": "1, 2"}, 2.0)
    ]
    assert joined([{"x": "1", "v": 1}], [{"y": "2", "v": 2}]) == [({}, 3.0)]  # one and one
    assert joined([{"x": "1", "v": 1}], [{"y": "2", "v": 2}, {"y": "3", "v": 2}]) == []
    with pytest.raises(ValueError, match="one number"):
        joined([{"x": "1"}], names)
