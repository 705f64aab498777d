"""Grafana transformations the panels use (done in Grafana, since FerretDB's pipelines
have no $divide or $avg)."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import DataTransformerConfig

__all__ = ["extract_fields", "hide_fields", "mean_of_sum_and_count", "partition_by"]


def mean_of_sum_and_count() -> DataTransformerConfig:
    """A ``mean`` field: sum / count of each rollup row."""
    return DataTransformerConfig(
        id_val="calculateField",
        options={
            "mode": "binary",
            "alias": "mean",
            "binary": {"left": "sum", "operator": "/", "right": "count"},
            "replaceFields": False,
        },
    )


def hide_fields(*names: str) -> DataTransformerConfig:
    return DataTransformerConfig(
        id_val="organize", options={"excludeByName": dict.fromkeys(names, True)}
    )


def partition_by(field_name: str) -> DataTransformerConfig:
    """One series per value of ``field_name`` (e.g. one line per sensor)."""
    return DataTransformerConfig(
        id_val="partitionByValues", options={"fields": [field_name], "keepFields": False}
    )


def extract_fields(field_name: str) -> DataTransformerConfig:
    """The keys of a JSON field (the plugin hands embedded documents over as JSON) as
    fields of their own."""
    return DataTransformerConfig(
        id_val="extractFields",
        options={"source": field_name, "format": "json", "replace": False, "keepTime": False},
    )
