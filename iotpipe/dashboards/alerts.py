"""Alert rules, in Grafana's file-provisioning format: a value out of its kind's range,
and a device silent for longer than the configured minutes."""

from __future__ import annotations

from typing import Any

from iotpipe.dashboards.kinds import AlertSettings
from iotpipe.dashboards.queries import FROM, MongoPanel, MongoQuery, in_range
from sink.documents import DEVICE_STATUS, ROLLUPS

__all__ = ["OUT_OF_RANGE_WINDOW_SECONDS", "alert_queries", "alert_rules"]

FOLDER = "iotpipe"
OUT_OF_RANGE_WINDOW_SECONDS = 600
EXPRESSIONS = {"type": "__expr__", "uid": "__expr__"}


def out_of_range(settings: AlertSettings) -> MongoPanel:
    """Per device|sensor: the minutes (rollups) in the window whose min or max left the
    kind's range."""
    clauses: list[dict[str, Any]] = []
    for r in settings.ranges:
        clauses.append({"sensor_kind": r.kind, "min": {"$lt": r.minimum}})
        clauses.append({"sensor_kind": r.kind, "max": {"$gt": r.maximum}})
    return MongoPanel(
        ROLLUPS,
        [
            {"$match": {**in_range("minute"), "$or": clauses}},
            {"$group": {"_id": "$series", "minutes": {"$sum": 1}}},
        ],
        {"_id": "string", "minutes": "number"},
        may_be_empty=True,
    )


def silent_devices() -> MongoPanel:
    """Per silent device: 1. The rule's time range ends now and starts
    ``silent_after_minutes`` ago, so $__from is the silence threshold."""
    return MongoPanel(
        DEVICE_STATUS,
        [
            {"$match": {"scope": "device", "last_seen": {"$lt": FROM}}},
            {"$group": {"_id": "$value", "silent": {"$sum": 1}}},
        ],
        {"_id": "string", "silent": "number"},
        may_be_empty=True,
    )


def alert_queries(settings: AlertSettings) -> dict[str, tuple[MongoPanel, int]]:
    """Rule uid -> (its query, its time window in seconds)."""
    return {
        "iotpipe-value-out-of-range": (out_of_range(settings), OUT_OF_RANGE_WINDOW_SECONDS),
        "iotpipe-device-silent": (silent_devices(), settings.silent_after_minutes * 60),
    }


def _rule(
    uid: str, title: str, query: MongoPanel, window: int, annotations: dict[str, str]
) -> dict[str, Any]:
    model = MongoQuery("A", query.collection, query.pipeline).to_json()
    return {
        "uid": uid,
        "title": title,
        "condition": "B",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": window, "to": 0},
                "datasourceUid": model["datasource"]["uid"],  # type: ignore[index]
                "model": model,
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "threshold",
                    "expression": "A",
                    "datasource": EXPRESSIONS,
                    "conditions": [{"evaluator": {"type": "gt", "params": [0]}}],
                },
            },
        ],
        "noDataState": "OK",  # no row means nothing is out of range / silent
        "execErrState": "Error",
        "for": "2m",
        "annotations": annotations,
        "labels": {"service": "iotpipe"},
        "isPaused": False,
    }


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
                        *queries["iotpipe-value-out-of-range"],
                        {
                            "summary": "{{ $labels._id }} sent values outside the plausible "
                            "range of its sensor kind",
                            "description": f"Ranges (grafana/alert-settings.yaml): {kinds}.",
                            "__dashboardUid__": "iotpipe-device",
                        },
                    ),
                    _rule(
                        "iotpipe-device-silent",
                        f"Device silent for more than {silent} minutes",
                        *queries["iotpipe-device-silent"],
                        {
                            "summary": f"Device {{{{ $labels._id }}}} sent nothing for more "
                            f"than {silent} minutes",
                            "__dashboardUid__": "iotpipe-fleet",
                        },
                    ),
                ],
            }
        ],
    }
