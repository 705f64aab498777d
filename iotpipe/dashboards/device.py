"""One device: its sensors' values over time (minute rollups: mean, min, max, last),
readings per minute, when it was last seen, its sensors, and each other numeric field of
its readings that the contract has (a field added to SensorReading gets a panel)."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common, dashboard, stat, table, timeseries
from grafana_foundation_sdk.models.common import BigValueColorMode, BigValueTextMode
from grafana_foundation_sdk.models.dashboard import VariableRefresh, VariableSort

from iotpipe.dashboards.board import Board
from iotpipe.dashboards.kinds import NumericField
from iotpipe.dashboards.queries import MONGODB, MongoPanel, in_range
from iotpipe.dashboards.transforms import hide_fields, mean_of_sum_and_count
from sink.documents import COLLECTIONS, DEVICE_STATUS, ROLLUPS

__all__ = [
    "DEVICE",
    "DEVICE_VARIABLE",
    "FIELD_POINTS",
    "SENSOR_VARIABLE",
    "device_view",
    "field_series",
]

FIELD_POINTS = 5000  # the latest readings a field's panel plots

# Query variables: the plugin reads each result document's ``value`` field, and its
# ``text`` as the label shown (the device's registered name; its id if unregistered).
DEVICE_VARIABLE = MongoPanel(
    DEVICE_STATUS,
    [
        {"$match": {"scope": "device"}},
        {"$project": {"_id": 0, "value": 1, "text": 1}},
        {"$sort": {"value": 1}},
    ],
    {"value": "string", "text": "string"},
)
DEVICE = MongoPanel(
    DEVICE_STATUS,
    [
        {"$match": {"scope": "device", "device_id": "$device"}},
        {"$project": {"_id": 0, "name": 1, "location": 1, "device_id": 1}},
    ],
    {"name": "string", "location": "string", "device_id": "string"},
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


def field_series(name: str) -> MongoPanel:
    """The device's readings that carry the field ``name``, latest :data:`FIELD_POINTS`,
    oldest first. Empty is a valid answer: records written before the field existed, or
    by a producer that does not send it, lack it."""
    return MongoPanel(
        COLLECTIONS["SensorReading"],
        [
            {"$match": {"device_id": "$device", name: {"$ne": None}, **in_range("event_time")}},
            {"$sort": {"event_time": -1}},
            {"$limit": FIELD_POINTS},
            {"$sort": {"event_time": 1}},
            {"$project": {"_id": 0, "event_time": 1, name: 1}},
        ],
        {"event_time": "time", name: "number"},
        may_be_empty=True,
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


def device_view(numbers: Sequence[NumericField] = ()) -> Board:
    """The device dashboard; ``numbers``: the readings' numeric fields besides ``value``
    (:func:`~iotpipe.dashboards.kinds.numeric_fields`), a panel each."""
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
        stat.Panel()
        .text_mode(BigValueTextMode.VALUE_AND_NAME)
        .color_mode(BigValueColorMode.NONE)
        .reduce_options(
            common.ReduceDataOptions().values(True).fields("/^(name|location|device_id)$/")
        ),
        "Device",
        [DEVICE],
        width=8,
        height=5,
        description="Name and location (latitude, longitude) from the device registry; "
        "a device it does not know is named by its id.",
    )
    board.add(
        stat.Panel().unit("dateTimeFromNow"),
        "Last seen",
        [LAST_SEEN],
        width=4,
        height=5,
        description="Event time of the device's latest reading.",
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Readings per minute",
        [READINGS],
        width=12,
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
    if numbers:
        board.row("Other numbers the readings carry")
    for number in numbers:
        board.add(
            timeseries.Panel().unit("short"),
            number.name,
            [field_series(number.name)],
            width=12,
            description=f"{number.doc} Every reading of the device that carries "
            f"{number.name}, by event time (the latest {FIELD_POINTS}).".strip(),
        )
    return board
