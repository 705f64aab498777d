"""The sink's one settings object: ``IOTPIPE_SINK_*`` environment variables or flags."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SinkSettings"]


class SinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOTPIPE_SINK_", extra="ignore")

    # Endpoints; empty means the local stack's (see iotpipe.endpoints).
    kafka_bootstrap_servers: str | None = None
    registry_url: str | None = None
    mongodb_uri: SecretStr | None = None  # may hold a password: never in a repr or log

    topic: str = "sensor-data"
    dlq_topic: str = "sensor-data.dlq"
    group_id: str = "iotpipe-sink"
    # How long the group waits for a member that stopped heartbeating (a SIGKILLed or
    # frozen sink) before its partitions go to the others or to its restarted self.
    # librdkafka's default is 45 s (measured by the chaos suite: 45 s without any writes
    # after a kill); 10 s still rides out a long GC or a slow broker (heartbeats come
    # from librdkafka's own thread, every third of this).
    session_timeout_ms: int = Field(default=10_000, ge=6_000, le=300_000)
    database: str = "iotpipe"
    # The device registry (openSenseMap boxes), mirrored into the collection "devices"
    # by a thread of its own (sink.devices); false: no mirror.
    devices_topic: str = "iotpipe.devices"
    devices_mirror: bool = True

    # Batching: write when this many records are in hand, or this long has passed. Under
    # light load every batch waits the whole time, so it is short (measured end to end at
    # half of peak: p99 456 ms with 0.1 s, 228 ms with 0.03 s; full batches unchanged;
    # then 0.01 s against 0.03 s in seven alternating pairs at 1,200 readings/s on
    # FerretDB: p99 146-223 vs 175-255 ms, medians 167 vs 233, p50 74-103 vs 108-134 ms).
    # While a write takes longer than this, batches grow to what arrived meanwhile.
    batch_max_records: int = Field(default=2000, ge=1)
    batch_max_seconds: float = Field(default=0.01, gt=0)

    # Retention of readings and events (TTL index, or a periodic delete where the
    # server has no TTL support); rollups are kept as long. The periodic delete runs only
    # without TTL (FerretDB), where it scans every collection whole (no filter pushdown):
    # a count of 60,000 documents took ~6 s there, so a delete every minute on a growing
    # database kept it scanning nearly all the time (10-min soak at 704 readings/s: lag
    # rose to 14,580 with a check every 60 s; max 204 with hourly checks). Hourly keeps
    # documents at most an hour past their retention.
    retention_days: float = Field(default=30.0, gt=0)
    retention_check_seconds: float = Field(default=3600.0, gt=0)

    # Rollups and device status (views for dashboards) are derived from the stored
    # readings off the write path: merged in memory and written every this many seconds
    # by a background thread (0: right after each batch, in the loop). At most
    # views_max_pending readings wait; beyond, the oldest are dropped with an error
    # (iotpipe db rebuild-rollups repairs).
    views_flush_seconds: float = Field(default=1.0, ge=0)
    # ...and take at most this share of the database's time: after a slow flush the next
    # waits longer (see sink.views; on FerretDB each update is a SQLite transaction).
    views_max_db_share: float = Field(default=0.2, gt=0, le=1)
    views_max_pending: int = Field(default=500_000, ge=1000)

    # Faults: backoff between retries (exponential with jitter, capped).
    retry_initial_seconds: float = Field(default=0.2, gt=0)
    retry_max_seconds: float = Field(default=10.0, gt=0)

    health_host: str = "127.0.0.1"
    health_port: int = Field(default=9108, ge=0, le=65535)  # 0: no health server
