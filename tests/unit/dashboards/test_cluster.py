"""The cluster dashboard and alert rules: what they plot and alert on, from metrics the
sink exports, with thresholds from grafana/alert-settings.yaml."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from iotpipe.contract.catalog import Contract
from iotpipe.dashboards import render
from iotpipe.dashboards.alerts import cluster_rules
from iotpipe.dashboards.kinds import GRAFANA_DIR, ClusterAlertSettings, load_alert_settings
from iotpipe.dashboards.probe import expand_provisioning
from iotpipe.errors import ContractError
from sink.health import SinkMetrics

CLUSTER_RULES = {
    "iotpipe-under-replicated-partitions": "5m",
    "iotpipe-offline-partitions": "1m",
    "iotpipe-consumer-lag-high": "10m",
    "iotpipe-consumer-lag-growing": "10m",
    "iotpipe-dead-letters": "0s",
    "iotpipe-rebalance-storm": "0s",
}


def sink_metric_names() -> set[str]:
    exported: set[str] = set()
    for family in SinkMetrics().registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        exported.update(family.name + s for s in suffixes.get(family.type, [""]))
    return exported


def committed_cluster_rules() -> dict[str, dict[str, Any]]:
    raw = (GRAFANA_DIR / render.RULES_FILE).read_text()
    groups = yaml.safe_load(expand_provisioning(raw, {}))["groups"]
    [cluster] = [g for g in groups if g["name"] == "iotpipe-cluster"]
    return {rule["uid"]: rule for rule in cluster["rules"]}


def cluster_board() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(
        (GRAFANA_DIR / "dashboards" / "iotpipe-cluster.json").read_text()
    )
    return raw


def test_each_cluster_rule_queries_prometheus_for_sink_metrics_and_waits_its_time() -> None:
    rules = committed_cluster_rules()
    assert {uid: r["for"] for uid, r in rules.items()} == CLUSTER_RULES
    exported = sink_metric_names()
    for uid, rule in rules.items():
        data = {d["refId"]: d for d in rule["data"]}
        query, condition = data["A"], data[rule["condition"]]
        assert query["datasourceUid"] == "iotpipe-prometheus"
        assert query["model"]["instant"] is True
        assert condition["model"]["type"] == "threshold"
        assert condition["model"]["expression"] == "A"
        metrics = re.findall(r"\b(iotpipe_\w+)", query["model"]["expr"])
        assert metrics, uid
        for metric in metrics:
            assert metric in exported, f"{uid}: {metric}"
        assert rule["annotations"]["__dashboardUid__"] == "iotpipe-cluster"
        assert "docs/operations/cluster.md" in rule["annotations"]["description"]


def test_cluster_thresholds_come_from_the_alert_settings() -> None:
    committed = load_alert_settings(Contract.load()).cluster
    rules = committed_cluster_rules()

    def above(uid: str) -> float:
        [condition] = [d for d in rules[uid]["data"] if d["refId"] == "B"]
        return float(condition["model"]["conditions"][0]["evaluator"]["params"][0])

    assert above("iotpipe-consumer-lag-high") == committed.consumer_lag_max
    assert above("iotpipe-rebalance-storm") == committed.rebalances_per_10m_max
    assert above("iotpipe-under-replicated-partitions") == 0
    assert above("iotpipe-dead-letters") == 0

    custom = {r.uid: r for r in cluster_rules(ClusterAlertSettings(500, 50, 7))}
    assert custom["iotpipe-consumer-lag-high"].above == 500
    assert "> 50" in custom["iotpipe-consumer-lag-growing"].expr
    assert custom["iotpipe-rebalance-storm"].above == 7
    assert "7" in custom["iotpipe-rebalance-storm"].title


def test_cluster_settings_refuse_unknown_keys_and_values_below_one(tmp_path: Path) -> None:
    settings = tmp_path / "alert-settings.yaml"
    settings.write_text("cluster:\n  consumer_lag_maximum: 5\n")
    with pytest.raises(ContractError, match="consumer_lag_maximum"):
        load_alert_settings(Contract.load(), settings)
    settings.write_text("cluster:\n  rebalances_per_10m_max: 0\n")
    with pytest.raises(ContractError, match="rebalances_per_10m_max"):
        load_alert_settings(Contract.load(), settings)
    settings.write_text("cluster:\n  consumer_lag_max: 2.5\n")
    with pytest.raises(ContractError, match="consumer_lag_max"):
        load_alert_settings(Contract.load(), settings)
    settings.write_text("silent_after_minutes: 5\n")
    assert load_alert_settings(Contract.load(), settings).cluster == ClusterAlertSettings()


def test_the_cluster_dashboard_shows_what_an_operator_of_a_cluster_needs() -> None:
    panels = {p["title"]: p for p in cluster_board()["panels"] if p["type"] != "row"}

    def exprs(title: str) -> str:
        return " | ".join(t["expr"] for t in panels[title]["targets"])

    lag = exprs("Consumer lag by partition")
    assert "iotpipe_sink_consumer_lag" in lag and "by (partition)" in lag
    assert "iotpipe_sink_topic_under_replicated_partitions" in exprs("Under-replicated partitions")
    assert "iotpipe_sink_dead_letters_total" in exprs("Dead letters per second, by reason")
    assert "iotpipe_sink_rebalances_total" in exprs("Rebalances, by kind")
    per_replica = exprs("Assigned partitions by sink replica")
    assert "iotpipe_sink_assigned_partitions" in per_replica and "by (instance)" in per_replica
    # Every replica reports the same cluster metadata: never summed across replicas.
    for title in ("Under-replicated partitions", "Offline partitions", "Brokers up"):
        assert re.search(r"\bmax\b", exprs(title)), title
