"""One device: its sensors' values over time (minute rollups: mean, min, max, last),
readings per minute, when it was last seen, and its sensors."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, stat, table, timeseries
from grafana_foundation_sdk.models.dashboard import VariableRefresh, VariableSort

from iotpipe.dashboards.board import Board
from iotpipe.dashboards.queries import MONGODB, MongoPanel, in_range
from iotpipe.dashboards.transforms import hide_fields, mean_of_sum_and_count
from sink.documents import DEVICE_STATUS, ROLLUPS

__all__ = ["DEVICE_VARIABLE", "SENSOR_VARIABLE", "device_view"]

# Query variables: the plugin reads each result document's ``value`` field.
DEVICE_VARIABLE = MongoPanel(
    DEVICE_STATUS,
    [
        {"$match": {"scope": "device"}},
        {"$project": {"_id": 0, "value": 1}},
        {"$sort": {"value": 1}},
    ],
    {"value": "string"},
)
SENSOR_VARIABLE = MongoPanel(
    DEVICE_STATUS,
    [
        {"$match": {"scope": "sensor", "device_id": "$device"}},
        {"$project": {"_id": 0, "value": 1}},
        {"$sort": {"value": 1}},
    ],
    {"value": "string"},
)
VALUES = MongoPanel(
    ROLLUPS,
    [
        {"$match": {"device_id": "$device", "sensor_id": "$sensor", **in_range("minute")}},
        {
            "$project": {
                "_id": 0,
                "minute": 1,
                "min": 1,
                "max": 1,
                "last": 1,
                "sum": 1,
                "count": 1,
            }
        },
        {"$sort": {"minute": 1}},
    ],
    {"minute": "time", "min": "number", "max": "number", "last": "number", "sum": "number"},
)
READINGS = MongoPanel(
    ROLLUPS,
    [
        {"$match": {"device_id": "$device", **in_range("minute")}},
        {"$group": {"_id": "$minute", "readings": {"$sum": "$count"}}},
        {"$sort": {"_id": 1}},
    ],
    {"_id": "time", "readings": "number"},
)
LAST_SEEN = MongoPanel(
    DEVICE_STATUS,
    [
        {"$match": {"scope": "device", "device_id": "$device"}},
        {"$project": {"_id": 0, "last_seen": 1}},
    ],
    {"last_seen": "time"},
)
SENSORS = MongoPanel(
    DEVICE_STATUS,
    [
        {"$match": {"scope": "sensor", "device_id": "$device"}},
        {
            "$project": {
                "_id": 0,
                "sensor_id": 1,
                "sensor_kind": 1,
                "unit": 1,
                "first_seen": 1,
                "last_seen": 1,
            }
        },
        {"$sort": {"sensor_id": 1}},
    ],
    {
        "sensor_id": "string",
        "sensor_kind": "string",
        "unit": "string",
        "first_seen": "time",
        "last_seen": "time",
    },
)


def _query_variable(name: str, label: str, spec: MongoPanel) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(MONGODB)
        .query({"collection": spec.collection, "queryText": spec.query_text, "refId": name})
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def device_view() -> Board:
    board = Board(
        "iotpipe-device",
        "iotpipe / Device",
        "One device: each sensor's values per minute (mean, min, max, last), readings per "
        "minute, when it was last seen, and its sensors.",
    )
    board.variable(_query_variable("device", "Device", DEVICE_VARIABLE))
    board.variable(
        _query_variable("sensor", "Sensor", SENSOR_VARIABLE).multi(True).include_all(True)
    )
    board.add(
        stat.Panel().unit("dateTimeFromNow"),
        "Last seen",
        [LAST_SEEN],
        width=6,
        height=5,
        description="Event time of the device's latest reading.",
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Readings per minute",
        [READINGS],
        width=18,
        height=5,
    )
    board.add(table.Panel(), "Sensors", [SENSORS], width=24, height=6)
    board.add(
        timeseries.Panel()
        .repeat("sensor")
        .repeat_direction("h")
        .max_per_row(2)
        .with_transformation(mean_of_sum_and_count())
        .with_transformation(hide_fields("sum", "count")),
        "$sensor",
        [VALUES],
        width=12,
        description="Per minute of event time: mean, min, max and the last value.",
    )
    return board
