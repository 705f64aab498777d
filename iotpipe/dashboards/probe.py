"""Run the committed dashboards' and alert rules' MongoDB queries the way Grafana would,
and check each answer has the fields its panel plots.

Queries come from the committed files (what Grafana loads); what each must return comes
from the generator's specs, matched by query text, so a hand-edited or stale file shows
up as "no spec" instead of passing unchecked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pymongo.database import Database

from iotpipe.contract.catalog import Contract
from iotpipe.dashboards.alerts import alert_queries
from iotpipe.dashboards.device import DEVICE_VARIABLE, SENSOR_VARIABLE
from iotpipe.dashboards.kinds import GRAFANA_DIR, load_alert_settings
from iotpipe.dashboards.macros import interpolate, parse_pipeline
from iotpipe.dashboards.queries import MONGODB, FieldKind, MongoPanel
from iotpipe.dashboards.render import RULES_FILE, boards

__all__ = [
    "CommittedQuery",
    "Outcome",
    "committed_queries",
    "expand_provisioning",
    "field_of",
    "joined",
    "run",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class CommittedQuery:
    where: str  # "iotpipe-fleet: Readings per minute", "alert iotpipe-device-silent A", ...
    collection: str
    text: str
    window: str | int | None  # panel timeFrom ("15m", "$silent_after") or alert seconds


@dataclass(frozen=True)
class Outcome:
    query: CommittedQuery
    rows: list[dict[str, Any]]
    problems: list[str]


def expand_provisioning(text: str, env: Mapping[str, str]) -> str:
    """Grafana's expansion of provisioning files: ``$$`` is ``$``, ``$NAME`` and ``${NAME}``
    come from the environment (empty if unset)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "$":
            return "$"
        return env.get(name.strip("{}"), "")

    return re.sub(r"\$(\$|\{\w+\}|\w+)", replace, text)


def committed_queries(grafana_dir: Path = GRAFANA_DIR) -> list[CommittedQuery]:
    found = []
    for path in sorted((grafana_dir / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for variable in board.get("templating", {}).get("list", []):
            if (variable.get("datasource") or {}).get("uid") == MONGODB.uid:
                query = variable["query"]
                found.append(
                    CommittedQuery(
                        f"{board['uid']}: variable {variable['name']}",
                        query["collection"],
                        query["queryText"],
                        None,
                    )
                )
        for panel in board.get("panels", []):
            for target in panel.get("targets", []):
                if (target.get("datasource") or {}).get("uid") == MONGODB.uid:
                    found.append(
                        CommittedQuery(
                            f"{board['uid']}: {panel['title']}",
                            target["collection"],
                            target["queryText"],
                            panel.get("timeFrom"),
                        )
                    )
    rules = yaml.safe_load(expand_provisioning((grafana_dir / RULES_FILE).read_text(), {}))
    for group in rules["groups"]:
        for rule in group["rules"]:
            for data in rule["data"]:
                if data.get("datasourceUid") == MONGODB.uid:
                    found.append(
                        CommittedQuery(
                            f"alert {rule['uid']} {data['refId']}",
                            data["model"]["collection"],
                            data["model"]["queryText"],
                            int(data["relativeTimeRange"]["from"]),
                        )
                    )
    return found


def specs(contract: Contract, grafana_dir: Path = GRAFANA_DIR) -> dict[str, MongoPanel]:
    """Query text -> the spec that generated it."""
    by_text = {s.query_text: s for s in (DEVICE_VARIABLE, SENSOR_VARIABLE)}
    for board in boards(contract):
        for panel in board.panels:
            by_text.update({q.query_text: q for q in panel.mongo})
    settings = load_alert_settings(contract, grafana_dir / "alert-settings.yaml")
    for queries in alert_queries(settings).values():
        by_text.update({query.query_text: query for query, _window in queries})
    return by_text


def _seconds(window: str) -> int:
    match = re.fullmatch(r"(\d+)([smhd])", window)
    if not match:
        raise ValueError(f"unsupported relative time {window!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def time_range(
    query: CommittedQuery, now: datetime, default: timedelta, variables: Mapping[str, Any]
) -> tuple[datetime, datetime]:
    """The range Grafana gives the query: the dashboard's, or the panel's relative time
    (variables filled in), or the alert rule's window."""
    window = query.window
    if isinstance(window, int):
        return now - timedelta(seconds=window), now
    if isinstance(window, str):
        return now - timedelta(
            seconds=_seconds(interpolate(window, start=now, end=now, variables=variables))
        ), now
    return now - default, now


def _kind(value: Any) -> FieldKind | None:
    if isinstance(value, datetime):
        return "time"
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def field_of(row: Mapping[str, Any], name: str) -> Any:
    """``row``'s field ``name``; a dotted name reaches into embedded documents (which
    the panel splits into fields of their own, e.g. ``latest.value``)."""
    value: Any = row
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def check(spec: MongoPanel, rows: list[dict[str, Any]]) -> list[str]:
    """What is wrong with ``rows`` for a panel that plots ``spec.fields``."""
    if not rows:
        return [] if spec.may_be_empty else ["no rows"]
    problems = []
    for name, kind in spec.fields.items():
        kinds = {_kind(field_of(row, name)) for row in rows}
        if kinds != {kind}:
            seen = ", ".join(sorted(str(k) for k in kinds))
            problems.append(f"field {name!r}: expected {kind} in every row, got {seen}")
    return problems


def run(
    db: Database[dict[str, Any]],
    contract: Contract,
    *,
    now: datetime,
    variables: Mapping[str, str | list[str]],
    default_range: timedelta = timedelta(hours=6),
    grafana_dir: Path = GRAFANA_DIR,
) -> list[Outcome]:
    by_text = specs(contract, grafana_dir)
    outcomes = []
    for query in committed_queries(grafana_dir):
        spec = by_text.get(query.text)
        if spec is None:
            outcomes.append(
                Outcome(
                    query, [], ["no generator spec has this query; run iotpipe dashboards generate"]
                )
            )
            continue
        start, end = time_range(query, now, default_range, variables)
        text = interpolate(query.text, start=start, end=end, variables=variables)
        try:
            rows = list(db[query.collection].aggregate(parse_pipeline(text)))
        except Exception as exc:  # noqa: BLE001 - reported per query, as Grafana would show it
            outcomes.append(Outcome(query, [], [f"{exc.__class__.__name__}: {exc}"]))
            continue
        outcomes.append(Outcome(query, rows, check(spec, rows)))
    return outcomes


Labels = dict[str, str]


def _numbers(rows: list[dict[str, Any]]) -> list[tuple[Labels, float]]:
    """A table as Grafana's server-side expressions read it (numeric data): each row is
    one number, labelled by its text columns."""
    out = []
    for row in rows:
        labels = {k: v for k, v in row.items() if isinstance(v, str)}
        numbers = [v for v in row.values() if _kind(v) == "number"]
        if len(numbers) != 1:
            raise ValueError(f"a row needs exactly one number column to be alerted on: {row}")
        out.append((labels, float(numbers[0])))
    return out


def joined(
    a_rows: list[dict[str, Any]], b_rows: list[dict[str, Any]]
) -> list[tuple[Labels, float]]:
    """``$A + $B`` as Grafana's math expression computes it for two sets of numbers
    (pkg/expressions/mathexp, ``union``): each pair whose labels are equal, or where one
    side has none or holds all of the other's labels, gives one number with the larger
    labels; other pairs are dropped; one number on each side that matched nothing is
    added with no labels."""
    a, b = _numbers(a_rows), _numbers(b_rows)
    out = []
    for a_labels, a_value in a:
        for b_labels, b_value in b:
            if a_labels == b_labels or not a_labels or not b_labels:
                labels = a_labels or b_labels
            elif len(a_labels) == len(b_labels):
                continue
            elif a_labels.items() >= b_labels.items():
                labels = a_labels
            elif b_labels.items() >= a_labels.items():
                labels = b_labels
            else:
                continue
            out.append((labels, a_value + b_value))
    if not out and len(a) == 1 and len(b) == 1:
        out.append(({}, a[0][1] + b[0][1]))
    return out
