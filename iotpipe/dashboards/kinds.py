"""What the dashboards take from the contract (the sensor kinds, the readings' numeric
fields) and the alert settings (grafana/alert-settings.yaml: plausible range per kind,
when a device counts as silent)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from iotpipe.contract.catalog import Contract
from iotpipe.errors import ContractError
from iotpipe.paths import REPO_DIR

__all__ = [
    "GRAFANA_DIR",
    "AlertSettings",
    "ClusterAlertSettings",
    "NumericField",
    "Range",
    "load_alert_settings",
    "numeric_fields",
    "sensor_kinds",
]

GRAFANA_DIR = REPO_DIR / "grafana"


def sensor_kinds(contract: Contract) -> list[str]:
    """The symbols of the SensorKind enum of SensorReading, in schema order."""
    schema = contract.by_name("SensorReading").schema
    for item in schema["fields"]:
        kind = item["type"]
        if isinstance(kind, dict) and kind.get("type") == "enum" and kind["name"] == "SensorKind":
            return list(kind["symbols"])
    raise ContractError("SensorReading has no SensorKind enum field")


NUMBERS = {"int", "long", "float", "double"}
ROLLED_UP = {"value"}  # the minute rollups' series: the device dashboard plots it already


@dataclass(frozen=True)
class NumericField:
    """A number each reading may carry besides its value (e.g. a battery voltage)."""

    name: str
    doc: str


def _number(schema: Any) -> bool:
    """An int, long, float or double, nullable or not; no logical type (a timestamp is a
    long, not a quantity to plot)."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        return len(branches) == 1 and _number(branches[0])
    if isinstance(schema, dict):
        return "logicalType" not in schema and _number(schema.get("type"))
    return schema in NUMBERS


def numeric_fields(contract: Contract) -> list[NumericField]:
    """SensorReading's top-level numeric fields other than ``value``, in schema order: a
    field added to the contract gets a panel on the device dashboard."""
    schema = contract.by_name("SensorReading").schema
    return [
        NumericField(str(item["name"]), str(item.get("doc", "")))
        for item in schema["fields"]
        if item["name"] not in ROLLED_UP and _number(item["type"])
    ]


@dataclass(frozen=True)
class Range:
    kind: str
    minimum: float
    maximum: float
    unit: str


@dataclass(frozen=True)
class ClusterAlertSettings:
    """Thresholds of the cluster's alert rules (see docs/operations/cluster.md)."""

    consumer_lag_max: int = 10_000  # records behind, all partitions, for 10 minutes
    consumer_lag_growing_min: int = 1_000  # "growing" counts only above this many
    rebalances_per_10m_max: int = 20  # rebalance events of all replicas in 10 minutes


@dataclass(frozen=True)
class AlertSettings:
    silent_after_minutes: int
    ranges: list[Range]
    cluster: ClusterAlertSettings = ClusterAlertSettings()


def load_alert_settings(contract: Contract, path: Path | None = None) -> AlertSettings:
    """The alert settings; a kind the contract does not know is an error."""
    path = path or GRAFANA_DIR / "alert-settings.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    known = set(sensor_kinds(contract))
    ranges = []
    for kind, spec in (data.get("ranges") or {}).items():
        if kind not in known:
            raise ContractError(
                f"{path.name}: {kind!r} is not a SensorKind of the contract "
                f"(known: {', '.join(sorted(known))})"
            )
        low, high = float(spec["min"]), float(spec["max"])
        if low >= high:
            raise ContractError(f"{path.name}: {kind}: min {low} is not below max {high}")
        ranges.append(Range(kind, low, high, str(spec.get("unit", ""))))
    silent = int(data.get("silent_after_minutes", 15))
    if silent < 1:
        raise ContractError(f"{path.name}: silent_after_minutes must be at least 1")
    return AlertSettings(silent, ranges, _cluster(path, data.get("cluster") or {}))


def _cluster(path: Path, data: dict[str, Any]) -> ClusterAlertSettings:
    defaults = ClusterAlertSettings()
    known = set(defaults.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ContractError(
            f"{path.name}: cluster: unknown {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )
    values = {}
    for name in known:
        raw = data.get(name, getattr(defaults, name))
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            raise ContractError(f"{path.name}: cluster: {name} must be a whole number >= 1")
        values[name] = raw
    return ClusterAlertSettings(**values)
