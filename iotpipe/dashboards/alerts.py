"""Alert rules, in Grafana's file-provisioning format: a value out of its kind's range,
and a device silent for longer than the configured minutes unless paused or retired
(MongoDB); and the cluster's
(Prometheus, from the sinks' /metrics): under-replicated and offline partitions,
consumer lag high or growing, dead letters, a rebalance storm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iotpipe.dashboards import cluster
from iotpipe.dashboards.fleet import SILENT
from iotpipe.dashboards.kinds import AlertSettings, ClusterAlertSettings
from iotpipe.dashboards.queries import PROMETHEUS, MongoPanel, MongoQuery, in_range
from sink.documents import DEVICE_STATUS, ROLLUPS

__all__ = [
    "OUT_OF_RANGE_WINDOW_SECONDS",
    "PromRule",
    "alert_queries",
    "alert_rules",
    "cluster_rules",
]

FOLDER = "iotpipe"
OUT_OF_RANGE_WINDOW_SECONDS = 600
EXPRESSIONS = {"type": "__expr__", "uid": "__expr__"}


def out_of_range(settings: AlertSettings) -> MongoPanel:
    """Per device (its status document's id, which Grafana joins to
    :func:`device_names` by label): the minutes of its sensors (rollups) in the window
    whose min or max left the kind's range."""
    clauses: list[dict[str, Any]] = []
    for r in settings.ranges:
        clauses.append({"sensor_kind": r.kind, "min": {"$lt": r.minimum}})
        clauses.append({"sensor_kind": r.kind, "max": {"$gt": r.maximum}})
    return MongoPanel(
        ROLLUPS,
        [
            {"$match": {**in_range("minute"), "$or": clauses}},
            {"$group": {"_id": "$device_status_id", "minutes": {"$sum": 1}}},
        ],
        {"_id": "string", "minutes": "number"},
        may_be_empty=True,
    )


def device_names() -> MongoPanel:
    """Every device's status document: its id (``_id``, as :func:`out_of_range` groups
    by), name and location as text columns and 0 as the value. Added to the out-of-range
    minutes by a Math expression, Grafana joins each device's row to its result (the row
    with more labels, which holds the other's, gives the labels: mathexp's union), so
    the alert is labelled with the name and location: FerretDB has no $lookup, nor a
    $project that could rename the group's ``_id``."""
    return MongoPanel(
        DEVICE_STATUS,
        [
            {"$match": {"scope": "device"}},
            {"$project": {"_id": 1, "device_id": 1, "name": 1, "location": 1}},
            {"$addFields": {"joined": 0}},
        ],
        {
            "_id": "string",
            "device_id": "string",
            "name": "string",
            "location": "string",
            "joined": "number",
        },
        ref_id="B",
        may_be_empty=True,  # no device yet: nothing to alert on either
    )


def silent_devices() -> MongoPanel:
    """Per silent device: 1, with its id, name and location as text columns, which
    Grafana makes the alert's labels. The rule's time range ends now and starts
    ``silent_after_minutes`` ago, so $__from is the silence threshold. Paused and retired
    devices are left out, as on the fleet dashboard. Name and location are on the
    device's status document (the sink's registry mirror: FerretDB has no $lookup);
    a device the registry does not know is named by its id, with location ""."""
    return MongoPanel(
        DEVICE_STATUS,
        [
            SILENT,
            {"$project": {"_id": 0, "device_id": 1, "name": 1, "location": 1}},
            {"$addFields": {"silent": 1}},
        ],
        {"device_id": "string", "name": "string", "location": "string", "silent": "number"},
        may_be_empty=True,
    )


def alert_queries(settings: AlertSettings) -> dict[str, list[tuple[MongoPanel, int]]]:
    """Rule uid -> its MongoDB queries (refIds A, B, ...) with their time windows in
    seconds."""
    silent_window = settings.silent_after_minutes * 60
    return {
        "iotpipe-value-out-of-range": [
            (out_of_range(settings), OUT_OF_RANGE_WINDOW_SECONDS),
            (device_names(), OUT_OF_RANGE_WINDOW_SECONDS),
        ],
        "iotpipe-device-silent": [(silent_devices(), silent_window)],
    }


def _threshold(above: float, ref_id: str = "B", of: str = "A") -> dict[str, Any]:
    return {
        "refId": ref_id,
        "datasourceUid": "__expr__",
        "model": {
            "refId": ref_id,
            "type": "threshold",
            "expression": of,
            "datasource": EXPRESSIONS,
            "conditions": [{"evaluator": {"type": "gt", "params": [above]}}],
        },
    }


def _math(ref_id: str, expression: str) -> dict[str, Any]:
    return {
        "refId": ref_id,
        "datasourceUid": "__expr__",
        "model": {
            "refId": ref_id,
            "type": "math",
            "expression": expression,
            "datasource": EXPRESSIONS,
        },
    }


def _query(query: MongoPanel, window: int) -> dict[str, Any]:
    model = MongoQuery(query.ref_id, query.collection, query.pipeline).to_json()
    return {
        "refId": query.ref_id,
        "relativeTimeRange": {"from": window, "to": 0},
        "datasourceUid": model["datasource"]["uid"],  # type: ignore[index]
        "model": model,
    }


def _rule(
    uid: str,
    title: str,
    queries: list[tuple[MongoPanel, int]],
    annotations: dict[str, str],
) -> dict[str, Any]:
    """One query (A): fires per row above 0. Two (A, B): C = $A + $B joins them by
    label, and fires per joined row above 0."""
    data = [_query(query, window) for query, window in queries]
    if len(queries) == 1:
        condition, tail = "B", [_threshold(0)]
    else:
        condition, tail = "D", [_math("C", "$A + $B"), _threshold(0, "D", "C")]
    return {
        "uid": uid,
        "title": title,
        "condition": condition,
        "data": [*data, *tail],
        "noDataState": "OK",  # no row means nothing is out of range / silent
        "execErrState": "Error",
        "for": "2m",
        "annotations": annotations,
        "labels": {"service": "iotpipe"},
        "isPaused": False,
    }


@dataclass(frozen=True)
class PromRule:
    """A cluster alert: an instant PromQL query, firing while a series is above
    ``above`` for ``pending`` (Grafana's "for")."""

    uid: str
    title: str
    expr: str
    above: float
    pending: str
    summary: str
    description: str
    dashboard: str = "iotpipe-cluster"

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "condition": "B",
            "data": [
                {
                    "refId": "A",
                    "relativeTimeRange": {"from": 600, "to": 0},
                    "datasourceUid": PROMETHEUS.uid,
                    "model": {
                        "refId": "A",
                        "datasource": PROMETHEUS.to_json(),
                        "expr": self.expr,
                        "instant": True,
                        "range": False,
                        "intervalMs": 15000,
                        "maxDataPoints": 43200,
                    },
                },
                _threshold(self.above),
            ],
            # No series: no sink is scraped (or nothing happened); not this rule's alarm.
            "noDataState": "OK",
            "execErrState": "Error",
            "for": self.pending,
            "annotations": {
                "summary": self.summary,
                "description": f"{self.description} What to do: {RUNBOOK}.",
                "__dashboardUid__": self.dashboard,
            },
            "labels": {"service": "iotpipe", "area": "cluster"},
            "isPaused": False,
        }


RUNBOOK = "docs/operations/cluster.md"
LAG_TOTAL = "sum(iotpipe_sink_consumer_lag)"
DEAD_LETTERS = "iotpipe_sink_dead_letters_total"


def cluster_rules(settings: ClusterAlertSettings) -> list[PromRule]:
    lag_max, growing_min = settings.consumer_lag_max, settings.consumer_lag_growing_min
    storm = settings.rebalances_per_10m_max
    return [
        PromRule(
            "iotpipe-under-replicated-partitions",
            "Under-replicated partitions",
            cluster.UNDER_REPLICATED,
            0,
            "5m",
            "{{ $labels.topic }}: {{ $values.A }} partitions with fewer in-sync replicas "
            "than replicas for 5 minutes",
            "A broker is down, slow or cut off: one more failure and writes to these "
            "partitions stop (min.insync.replicas).",
        ),
        PromRule(
            "iotpipe-offline-partitions",
            "Offline partitions",
            cluster.OFFLINE,
            0,
            "1m",
            "{{ $labels.topic }}: {{ $values.A }} partitions without a leader",
            "Records for these partitions cannot be written (ingest answers 503) and the "
            "sink reads none.",
        ),
        PromRule(
            "iotpipe-consumer-lag-high",
            f"Consumer lag above {lag_max:,} for 10 minutes",
            LAG_TOTAL,
            lag_max,
            "10m",
            f"The sinks are {{{{ $values.A }}}} records behind (more than {lag_max:,} for "
            "10 minutes)",
            "Readings reach the database late. Settings: grafana/alert-settings.yaml "
            "(cluster.consumer_lag_max).",
        ),
        PromRule(
            "iotpipe-consumer-lag-growing",
            "Consumer lag growing for 10 minutes",
            # records per second, while the lag is above growing_min
            f"deriv({LAG_TOTAL}[10m:1m]) and on() {LAG_TOTAL} > {growing_min}",
            0,
            "10m",
            "Consumer lag grows by {{ $values.A }} records/s and has for 10 minutes",
            "The sinks store less than ingest accepts: they fall further behind. "
            f"Counted only above {growing_min:,} records behind "
            "(cluster.consumer_lag_growing_min).",
        ),
        PromRule(
            "iotpipe-dead-letters",
            "Records sent to the dead-letter queue",
            # A reason's counter is created by its first dead letter: a series that
            # appeared in the window counts too (increase() cannot see its first value).
            f"sum by (reason) (increase({DEAD_LETTERS}[5m])) > 0 or sum by (reason) "
            f"({DEAD_LETTERS} unless {DEAD_LETTERS} offset 5m)",
            0,
            "0s",
            "Records sent to the dead-letter queue in the last 5 minutes "
            "(reason {{ $labels.reason }})",
            "A record could not be decoded or stored; the partition kept flowing. "
            "iotpipe dlq list shows them, iotpipe dlq replay sends them back.",
        ),
        PromRule(
            "iotpipe-rebalance-storm",
            f"More than {storm} rebalances in 10 minutes",
            "sum(increase(iotpipe_sink_rebalances_total[10m]))",
            storm,
            "0s",
            "{{ $values.A }} rebalance events of the sink group in 10 minutes",
            "Sinks keep joining and leaving (crash loops, health-check restarts, sessions "
            "expiring under load). Settings: cluster.rebalances_per_10m_max.",
        ),
    ]


def alert_rules(settings: AlertSettings) -> dict[str, Any]:
    queries = alert_queries(settings)
    kinds = ", ".join(f"{r.kind} {r.minimum:g}..{r.maximum:g} {r.unit}" for r in settings.ranges)
    silent = settings.silent_after_minutes
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": "iotpipe",
                "folder": FOLDER,
                "interval": "1m",
                "rules": [
                    _rule(
                        "iotpipe-value-out-of-range",
                        "Value out of its range",
                        queries["iotpipe-value-out-of-range"],
                        {
                            "summary": "Device {{ $labels.name }} ({{ $labels.device_id }}"
                            "{{ with $labels.location }}, at {{ . }}{{ end }}) sent values "
                            "outside the plausible range of their sensor kind in "
                            "{{ $values.C }} sensor-minutes of the last 10 minutes",
                            "description": f"Ranges (grafana/alert-settings.yaml): {kinds}.",
                            "__dashboardUid__": "iotpipe-device",
                        },
                    ),
                    _rule(
                        "iotpipe-device-silent",
                        f"Device silent for more than {silent} minutes",
                        queries["iotpipe-device-silent"],
                        {
                            "summary": f"Device {{{{ $labels.name }}}} "
                            "({{ $labels.device_id }}{{ with $labels.location }}, at "
                            f"{{{{ . }}}}{{{{ end }}}}) sent nothing for more than {silent} "
                            "minutes",
                            "__dashboardUid__": "iotpipe-fleet",
                        },
                    ),
                ],
            },
            {
                "orgId": 1,
                "name": "iotpipe-cluster",
                "folder": FOLDER,
                "interval": "1m",
                "rules": [r.to_json() for r in cluster_rules(settings.cluster)],
            },
        ],
    }
