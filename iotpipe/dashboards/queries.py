"""Panel queries: MongoDB pipelines for the community datasource plugin, and PromQL.

A :class:`MongoPanel` holds what Grafana sends (collection and pipeline) and what the
panel needs back (``fields``: name -> kind), so a test can run the pipeline against a
real database and check the answer the way the panel would read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Self

from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

__all__ = [
    "FROM",
    "MONGODB",
    "PROMETHEUS",
    "FieldKind",
    "MongoPanel",
    "MongoQuery",
    "PromPanel",
    "in_range",
]

MONGODB = dashboard.DataSourceRef(type_val="haohanyang-mongodb-datasource", uid="iotpipe-mongodb")
PROMETHEUS = dashboard.DataSourceRef(type_val="prometheus", uid="iotpipe-prometheus")

# The panel's time range as the plugin reads it: Extended JSON dates from epoch ms.
FROM = {"$date": {"$numberLong": "$__from"}}
TO = {"$date": {"$numberLong": "$__to"}}

FieldKind = Literal["time", "number", "string"]


def in_range(field_name: str) -> dict[str, Any]:
    """A $match condition: ``field_name`` within the panel's time range."""
    return {field_name: {"$gte": FROM, "$lt": TO}}


class MongoQuery(cogvariants.Dataquery):
    """The plugin's query model: collection, pipeline text, language."""

    def __init__(self, ref_id: str, collection: str, pipeline: list[dict[str, Any]]) -> None:
        self.ref_id = ref_id
        self.collection = collection
        self.query_text = json.dumps(pipeline, indent=2)

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": MONGODB.to_json(),
            "collection": self.collection,
            "queryText": self.query_text,
            "queryLanguage": "json",
        }


class _Built(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: cogvariants.Dataquery) -> None:
        self._query = query

    def build(self) -> cogvariants.Dataquery:
        return self._query


@dataclass(frozen=True)
class MongoPanel:
    """One panel's MongoDB query and the fields (name -> kind) it plots."""

    collection: str
    pipeline: list[dict[str, Any]]
    fields: dict[str, FieldKind]
    ref_id: str = "A"
    may_be_empty: bool = False  # e.g. "silent devices": none is a valid answer

    @property
    def query_text(self) -> str:
        return MongoQuery(self.ref_id, self.collection, self.pipeline).query_text

    def target(self) -> cogbuilder.Builder[cogvariants.Dataquery]:
        return _Built(MongoQuery(self.ref_id, self.collection, self.pipeline))


@dataclass(frozen=True)
class PromPanel:
    """A PromQL query on the metrics ingest and sink export."""

    expr: str
    legend: str = ""
    ref_id: str = "A"

    def target(self) -> cogbuilder.Builder[cogvariants.Dataquery]:
        query = prometheus.Dataquery().expr(self.expr).ref_id(self.ref_id)
        query = query.datasource(PROMETHEUS)
        if self.legend:
            query = query.legend_format(self.legend)
        return query

    def with_ref(self, ref_id: str) -> Self:
        return type(self)(self.expr, self.legend, ref_id)
