"""Fleet overview: readings per minute, devices reporting and silent, readings by kind,
one panel per sensor kind of the contract, rejections and dead letters."""

from __future__ import annotations

from grafana_foundation_sdk.builders import (
    barchart,
    common,
    dashboard,
    geomap,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.models.common import FrameGeometrySourceMode
from grafana_foundation_sdk.models.dashboard import VariableOption
from grafana_foundation_sdk.models.geomap import TooltipMode

from iotpipe.dashboards.board import Board
from iotpipe.dashboards.queries import FROM, MongoPanel, PromPanel, in_range
from iotpipe.dashboards.transforms import extract_fields, hide_fields, mean_of_sum_and_count
from iotpipe.devices.states import SILENCED
from sink.documents import DEVICE_STATUS, LATEST, ROLLUPS

__all__ = ["DEVICE_MAP", "SILENT_AFTER", "fleet_overview"]

SILENT_AFTER = ["15m", "5m", "30m", "1h", "6h", "24h"]  # first: the default

READINGS_PER_MINUTE = MongoPanel(
    ROLLUPS,
    [
        {"$match": in_range("minute")},
        {"$group": {"_id": "$minute", "readings": {"$sum": "$count"}}},
        {"$sort": {"_id": 1}},
    ],
    {"_id": "time", "readings": "number"},
)
READINGS_IN_RANGE = MongoPanel(
    ROLLUPS,
    [{"$match": in_range("minute")}, {"$group": {"_id": None, "readings": {"$sum": "$count"}}}],
    {"readings": "number"},
)
DEVICES_REPORTING = MongoPanel(
    DEVICE_STATUS,
    [{"$match": {"scope": "device", **in_range("last_seen")}}, {"$count": "devices"}],
    {"devices": "number"},
)
# With the panel's time range set to the last $silent_after, $__from is "now minus
# silent_after": a device whose latest reading is older is silent, unless it was paused
# or retired on purpose (``iotpipe devices pause|retire``; the sink puts the state on the
# device's document). The "device silent" alert rule uses the same condition.
SILENT = {
    "$match": {
        "scope": "device",
        "last_seen": {"$lt": FROM},
        "state": {"$nin": [s.value for s in SILENCED]},
    }
}
DEVICES_SILENT = MongoPanel(
    DEVICE_STATUS, [SILENT, {"$count": "devices"}], {"devices": "number"}, may_be_empty=True
)
SILENT_DEVICES = MongoPanel(
    DEVICE_STATUS,
    [
        SILENT,
        {
            "$project": {
                "_id": 0,
                "name": 1,
                "location": 1,
                "device_id": 1,
                "last_seen": 1,
                "first_seen": 1,
                "last_stored": 1,
            }
        },
        {"$sort": {"last_seen": -1}},
        {"$limit": 500},
    ],
    {
        "name": "string",
        "location": "string",
        "device_id": "string",
        "last_seen": "time",
        "first_seen": "time",
        "last_stored": "time",
    },
    may_be_empty=True,
)
# Registered devices with a location (the sink's registry mirror puts name, latitude and
# longitude on their status documents) and their latest reading, whatever its age.
DEVICE_MAP = MongoPanel(
    DEVICE_STATUS,
    [
        {"$match": {"scope": "device", "latitude": {"$exists": True}}},
        {
            "$project": {
                "_id": 0,
                "name": 1,
                "device_id": 1,
                "location": 1,
                "latitude": 1,
                "longitude": 1,
                LATEST: 1,
                "last_seen": 1,
                "state": 1,
            }
        },
        {"$sort": {"device_id": 1}},
        {"$limit": 5000},
    ],
    {
        "name": "string",
        "device_id": "string",
        "latitude": "number",
        "longitude": "number",
        f"{LATEST}.value": "number",
        f"{LATEST}.unit": "string",
        f"{LATEST}.time": "time",
    },
    may_be_empty=True,
)


def device_map() -> geomap.Panel:
    """Markers at each device's latitude/longitude, labelled with its name; the latest
    reading (a JSON field from the plugin) split into value, unit, sensor and time."""
    location = (
        common.FrameGeometrySource()
        .mode(FrameGeometrySourceMode.COORDS)
        .latitude("latitude")
        .longitude("longitude")
    )
    markers = (
        common.MapLayerOptions()
        .type("markers")
        .name("Devices")
        .location(location)
        .tooltip(True)
        .config(
            {
                "showLegend": False,
                "style": {
                    "color": {"fixed": "dark-green"},
                    "size": {"fixed": 6},
                    "opacity": 0.8,
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                    "text": {"field": "name", "fixed": "", "mode": "field"},
                    "textConfig": {"fontSize": 11, "offsetY": -12, "textAlign": "center"},
                },
            }
        )
    )
    return (
        geomap.Panel()
        .basemap(common.MapLayerOptions().type("default").name("Basemap"))
        .layers([markers])
        .tooltip(geomap.TooltipOptions().mode(TooltipMode.DETAILS))
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True))
        .view(geomap.MapViewConfig().id("fit").all_layers(True))
        .with_transformation(extract_fields(LATEST))
        .with_transformation(hide_fields(LATEST))
    )


READINGS_BY_KIND = MongoPanel(
    ROLLUPS,
    [
        {"$match": in_range("minute")},
        {"$group": {"_id": "$sensor_kind", "readings": {"$sum": "$count"}}},
        {"$sort": {"readings": -1}},
    ],
    {"_id": "string", "readings": "number"},
)
PER_KIND = MongoPanel(
    ROLLUPS,
    [
        {"$match": {"sensor_kind": "$kind", **in_range("minute")}},
        {"$group": {"_id": "$minute", "count": {"$sum": "$count"}, "sum": {"$sum": "$sum"}}},
        {"$sort": {"_id": 1}},
    ],
    {"_id": "time", "count": "number", "sum": "number"},
)
REJECTED = PromPanel(
    "sum by (reason) "
    '(increase(iotpipe_ingest_records_total{outcome="rejected"}[$__rate_interval]))',
    "{{reason}}",
)
DEAD_LETTERS = PromPanel(
    "sum by (reason) (increase(iotpipe_sink_dead_letters_total[$__rate_interval]))", "{{reason}}"
)


def fleet_overview(kinds: list[str]) -> Board:
    board = Board(
        "iotpipe-fleet",
        "iotpipe / Fleet overview",
        "Readings stored, devices reporting and silent, per sensor kind; rejections at "
        "ingest and dead letters at the sink.",
    )
    board.variable(
        dashboard.CustomVariable("silent_after")
        .label("Silent after")
        .description("A device is silent when its latest reading is older than this.")
        .values(",".join(SILENT_AFTER))
        .current(VariableOption(selected=True, text=SILENT_AFTER[0], value=SILENT_AFTER[0]))
    )
    board.variable(
        dashboard.CustomVariable("kind")
        .label("Sensor kind")
        .description("Sensor kinds of the contract (SensorKind in schemas/sensor_reading.avsc).")
        .values(",".join(kinds))
        .multi(True)
        .include_all(True)
        .current(VariableOption(selected=True, text=["All"], value=["$__all"]))
    )
    board.add(
        stat.Panel().unit("short").no_value("0"),
        "Readings in range",
        [READINGS_IN_RANGE],
        width=6,
        height=5,
    )
    board.add(
        stat.Panel().unit("short").no_value("0"),
        "Devices reporting",
        [DEVICES_REPORTING],
        width=6,
        height=5,
        description="Devices with a reading in the dashboard's time range.",
    )
    board.add(
        stat.Panel().unit("short").no_value("0"),
        "Devices silent for $silent_after",
        [DEVICES_SILENT],
        width=6,
        height=5,
        time_from="$silent_after",
        description="Devices known to the sink whose latest reading is older than "
        "$silent_after; paused and retired devices are left out.",
    )
    board.add(
        barchart.Panel(),
        "Readings by sensor kind",
        [READINGS_BY_KIND],
        width=6,
        height=5,
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Readings per minute",
        [READINGS_PER_MINUTE],
        width=12,
        description="Stored readings per minute of event time (from the minute rollups).",
    )
    board.add(
        table.Panel(),
        "Silent devices",
        [SILENT_DEVICES],
        width=12,
        time_from="$silent_after",
        description="Latest reading older than $silent_after, most recent first (paused "
        "and retired devices left out). Name and location from the device registry; a "
        "device it does not know is named by its id.",
    )
    board.add(
        device_map(),
        "Device locations and last values",
        [DEVICE_MAP],
        width=24,
        height=10,
        description="Registered devices with a location (iotpipe devices import), "
        "labelled with their name; hover for the latest reading (value, unit, sensor, "
        "time), whatever its age. Devices the registry does not know have no location.",
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Rejected at ingest, by reason",
        [REJECTED],
        width=12,
        description="Records ingest refused (HTTP 4xx/207 item errors), from Prometheus.",
    )
    board.add(
        timeseries.Panel().unit("short"),
        "Dead letters, by reason",
        [DEAD_LETTERS],
        width=12,
        description="Records the sink could not decode, sent to sensor-data.dlq.",
    )
    board.row("By sensor kind")
    board.add(
        timeseries.Panel()
        .unit("short")
        .repeat("kind")
        .repeat_direction("h")
        .max_per_row(3)
        .with_transformation(mean_of_sum_and_count())
        .with_transformation(hide_fields("sum")),
        "$kind",
        [PER_KIND],
        width=8,
        description="Fleet-wide mean value and readings per minute for one sensor kind.",
    )
    return board
