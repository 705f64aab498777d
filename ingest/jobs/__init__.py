"""Batch ingestion jobs: backfill a box's history from an openSenseMap-compatible API.

A job reads the box (``GET /boxes/{id}``), pages backwards through each sensor's
measurements (``GET /boxes/{id}/data/{sensor}``, at most 10,000 rows a call, newest
first) and publishes them through the same ``IngestService`` as live data. Its state is
kept in a compacted Kafka topic (ingest never writes to MongoDB), written at each state
change and after each page, so a restarted ingest resumes from the per-sensor cursor;
re-publishing a page is harmless because event ids are derived from box, sensor and time.
"""

from __future__ import annotations
