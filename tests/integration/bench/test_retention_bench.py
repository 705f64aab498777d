"""``iotpipe bench --retention`` at a small size on the real FerretDB: both runs delete
exactly the expired readings, the figures count what each examined, the explain shows
what FerretDB pushes down, and the database is gone after."""

from __future__ import annotations

import pytest
from pymongo import MongoClient
from rich.console import Console

from iotpipe.bench.retention import run_retention_bench, table


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_retention_bench_measures_both_runs(endpoints: dict[str, str]) -> None:
    figures = run_retention_bench(
        endpoints["mongodb"], stored=3000, expired=150, console=Console(quiet=True), page=100
    )

    assert (figures.walk_deleted, figures.delete_deleted) == (150, 150)
    assert figures.delete_examined == 3000  # every stored reading
    # 150 read at the front and deleted by _id; the second look read 50 kept and the
    # last one those and a page more
    assert figures.walk_examined == 2 * 150 + 50 + (50 + 100)
    assert figures.idle_examined == 100  # nothing expired: one page
    explain = figures.explain
    assert explain["delete by time (find by event_time < cutoff)"]["filterPushdown"] is False
    assert explain["an _id range (find by _id < ObjectId of the cutoff)"]["filterPushdown"] is False
    assert explain["walk: the front (find, empty filter, limit)"]["limitPushdown"] is True
    assert explain["walk: a delete's look-up (find by _id)"]["filterPushdown"] is True
    console = Console(record=True, width=120)
    console.print(table(figures))
    assert "before: delete by time" in console.export_text()
    client: MongoClient[dict[str, object]] = MongoClient(endpoints["mongodb"])
    assert figures.database not in client.list_database_names()
    client.close()
