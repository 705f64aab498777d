"""The sink's one settings object: ``IOTPIPE_SINK_*`` environment variables or flags."""

from __future__ import annotations

from typing import Literal

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
    # How the group shares the partitions. cooperative-sticky: a member joining or
    # leaving moves only the partitions that change owner, the others keep flowing (an
    # eager strategy, range or roundrobin, stops every member for every rebalance). All
    # members of a group must use the same kind (cooperative or eager): switching a
    # running group means stopping all its sinks first (docs/operations/cluster.md).
    assignment_strategy: Literal["cooperative-sticky", "range", "roundrobin"] = "cooperative-sticky"
    # How often the sink reads the cluster's metadata for its /metrics (brokers up,
    # under-replicated and offline partitions of its topics), off the consume loop.
    # 0: never.
    cluster_check_seconds: float = Field(default=15.0, ge=0)
    database: str = "iotpipe"
    # The device registry (openSenseMap boxes), mirrored into the collection "devices"
    # by a thread of its own (sink.devices); false: no mirror.
    devices_topic: str = "iotpipe.devices"
    devices_mirror: bool = True

    # Batching: one write at a time; what arrives while it runs is written next, as one
    # batch of at most batch_max_records (so batches grow with the load). With the writer
    # free, a batch waits up to batch_max_seconds for records arriving behind its first
    # (0: written at once). At 2,800 readings/s end to end, 0.01 s against 0: 593-606
    # writes in 20 s against 804-986, and p99 69-117 vs 93-184 ms (three alternating
    # pairs): the many small writes kept the database busier.
    batch_max_records: int = Field(default=2000, ge=1)
    batch_max_seconds: float = Field(default=0.01, ge=0)
    # A write of at least this many documents goes to the database as two inserts at once
    # (its halves; see sink.store.mongo): a backlog drains faster on FerretDB. 0: never.
    write_split_min: int = Field(default=1000, ge=0)

    # Retention of readings and events (TTL index, or periodic deletes where the server
    # has no TTL support); rollups are kept as long. The periodic deletes run only without
    # TTL (FerretDB), which pushes no time filter down: a delete by time scans every
    # collection whole (1 M readings: minutes), so a check every minute by such deletes
    # kept it scanning nearly all the time (10-min soak at 704 readings/s: lag rose to
    # 14,580). Each check instead walks the front of each collection, where documents
    # stored in time order expire (sink.store.retention): its cost follows what expires
    # (docs/operations/retention-and-roles.md has the figures), so it runs every minute;
    # documents stored out of order (backfills) and device status are caught by a sweep
    # of whole collections every retention_sweep_seconds (0: never).
    retention_days: float = Field(default=30.0, gt=0)
    retention_check_seconds: float = Field(default=60.0, gt=0)
    retention_sweep_seconds: float = Field(default=86400.0, ge=0)

    # Rollups and device status (views for dashboards) are derived from the stored
    # readings off the write path: merged in memory and written every this many seconds
    # by a background thread (0: right after each batch, in the loop). At most
    # views_max_pending readings wait; beyond, the oldest are dropped with an error
    # (iotpipe db rebuild-rollups repairs).
    views_flush_seconds: float = Field(default=1.0, ge=0)
    # ...and take at most this share of the database's time: after a slow flush the next
    # waits longer (see sink.views; on FerretDB each update is a SQLite transaction).
    views_max_db_share: float = Field(default=0.05, gt=0, le=1)
    views_max_pending: int = Field(default=500_000, ge=1000)
    # A batch's offsets are committed once the views have written its readings, so a
    # crash never leaves a stored reading uncounted in the rollups (false: committed at
    # once, as before; a crash between commit and flush then leaves rollups short until
    # `iotpipe db rebuild-rollups`). While a batch has waited longer than
    # views_commit_wait_seconds, the views write without their share's pauses.
    views_hold_commits: bool = True
    views_commit_wait_seconds: float = Field(default=5.0, ge=0)
    # false: readings only, no rollups and no device status (the dashboards and alerts
    # read those). A bench setting: ``iotpipe bench`` measures the sink this way too, to
    # compare it with a sink that stores readings only (the Kafka Connect peer).
    views: bool = True

    # Faults: backoff between retries (exponential with jitter, capped).
    retry_initial_seconds: float = Field(default=0.2, gt=0)
    retry_max_seconds: float = Field(default=10.0, gt=0)

    # Python's garbage collector (as ingest's settings): its youngest generation runs
    # after this many net container allocations (Python's default: 700; 0 keeps it), and
    # what exists once the sink is built is moved out of its reach (gc.freeze). Draining
    # a backlog with the defaults: 7 full collections of 64-75 ms each in 12 s, a pause
    # of the consume loop each (and 650 ms of collecting in all).
    gc_gen0_threshold: int = Field(default=50_000, ge=0)
    gc_freeze: bool = True

    health_host: str = "127.0.0.1"
    health_port: int = Field(default=9108, ge=0, le=65535)  # 0: no health server
