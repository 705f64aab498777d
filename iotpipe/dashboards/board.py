"""A dashboard being assembled with the SDK's builder (which places panels on Grafana's
24-column grid), and the queries of every panel kept beside it for checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard

from iotpipe.dashboards.queries import MONGODB, MongoPanel, PromPanel

__all__ = ["Board", "PanelQueries"]


@dataclass(frozen=True)
class PanelQueries:
    """The queries of one panel, by its title (unique within a dashboard)."""

    title: str
    mongo: tuple[MongoPanel, ...]
    prometheus: tuple[PromPanel, ...]
    time_from: str | None = None


@dataclass
class Board:
    uid: str
    title: str
    description: str
    builder: dash.Dashboard = field(init=False)
    panels: list[PanelQueries] = field(default_factory=list)
    _next_id: int = 1

    def __post_init__(self) -> None:
        self.builder = (
            dash.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(["iotpipe"])
            .refresh("30s")
            .time("now-6h", "now")
            .timezone("utc")
            .editable()
        )

    def variable(self, variable: cogbuilder.Builder[dashboard.VariableModel]) -> None:
        self.builder.with_variable(variable)

    def row(self, title: str) -> None:
        self.builder.with_row(dash.Row(title).id(self._id()))

    def add(
        self,
        panel: Any,
        title: str,
        queries: list[MongoPanel] | list[PromPanel],
        *,
        width: int,
        height: int = 8,
        description: str = "",
        time_from: str | None = None,
    ) -> None:
        """Add ``panel`` (an SDK panel builder) with its queries; rows fill left to right."""
        if any(p.title == title for p in self.panels):
            raise ValueError(f"two panels titled {title!r} on {self.uid}")
        panel = panel.id(self._id()).title(title).span(width).height(height)
        if description:
            panel = panel.description(description)
        if time_from:
            panel = panel.time_from(time_from)
        mongo = tuple(q for q in queries if isinstance(q, MongoPanel))
        prom = tuple(q for q in queries if isinstance(q, PromPanel))
        if mongo:
            panel = panel.datasource(MONGODB)
        for query in queries:
            panel = panel.with_target(query.target())
        self.builder.with_panel(panel)
        self.panels.append(PanelQueries(title, mongo, prom, time_from))

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def to_json(self) -> str:
        model = self.builder.build()
        return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
