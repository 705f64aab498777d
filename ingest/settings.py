"""ingest's one settings object: ``IOTPIPE_INGEST_*`` environment variables or flags."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from iotpipe.stack.settings import default_state_dir

__all__ = ["IngestSettings", "default_keys_file"]


def default_keys_file() -> Path:
    return default_state_dir().parent / "ingest-keys.json"


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOTPIPE_INGEST_", extra="ignore")

    def worker_count(self) -> int:
        """How many worker processes serve: ``workers``, or one per core."""
        return self.workers or os.cpu_count() or 1

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Worker processes, each with a listening socket of its own (ingest.workers); 0: one
    # per core. With one, the process serves by itself.
    workers: int = Field(default=0, ge=0)
    # Set by the supervisor in each worker: its number (0 is the primary, which runs the
    # backfill jobs) and the primary's private socket (the others forward job requests).
    worker_index: int = Field(default=0, ge=0)
    primary_socket: str | None = None
    # uvicorn's access log: a line per request. Off by default: at thousands of requests
    # per second it cost about as much as serving them (a raw ASGI no-op: 14,600 req/s
    # with it, 27,400 without; measured with wrk). Requests are counted by route and
    # status in /metrics either way.
    access_log: bool = False
    # uvicorn's log level, and ingest's own loggers' (debug logs WebSocket frames and
    # handshakes, with secrets redacted: iotpipe.redact).
    log_level: str = Field(default="info", pattern="^(critical|error|warning|info|debug|trace)$")
    # Python's garbage collector runs its youngest generation after this many net
    # container allocations (Python's default: 700). A 1,000-record request allocates
    # tens of thousands, and each collection that reaches the oldest generation walks
    # the whole heap: 50,000 took 30 % more readings/s through ingest
    # (docs/performance.md). 0 keeps Python's default.
    gc_gen0_threshold: int = Field(default=50_000, ge=0)
    # Move what exists once the app is built (FastAPI's, Pydantic's and the contract's
    # objects, most of the heap) out of the collector's reach: its full collections
    # paused the event loop for 80-190 ms, walking objects that live as long as the
    # process.
    gc_freeze: bool = True

    # Endpoints; empty means the local stack's (see iotpipe.endpoints).
    kafka_bootstrap_servers: str | None = None
    registry_url: str | None = None
    topic: str = "sensor-data"
    # The device registry (openSenseMap boxes), a compacted topic ingest follows in memory
    # (iotpipe.devices.follower); at start it waits this long for the registry to be read.
    devices_topic: str = "iotpipe.devices"
    devices_wait_seconds: float = Field(default=10.0, ge=0)

    # Request limits.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_batch_records: int = Field(default=5000, ge=1)
    # A request's body must have arrived this many seconds after ingest starts reading it,
    # else 408 and the connection is closed: a client trickling a body (slowloris) must
    # not hold a connection forever. uvicorn bounds the wait for headers
    # (timeout_keep_alive) but not for a body.
    body_timeout_seconds: float = Field(default=60.0, gt=0)
    # Late-data policy: event_time may be at most this far ahead of the clock and at most
    # this old; outside, the record is rejected with the reason.
    max_future_skew_seconds: float = Field(default=300.0, ge=0)
    max_age_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)

    # Auth: "required" (per-device keys) or "disabled" (local experiments only).
    auth: str = Field(default="required", pattern="^(required|disabled)$")
    keys_file: Path = Field(default_factory=default_keys_file)
    # Each process looks at the key file at most this often (a stat, and a read when it
    # changed), so a key created or revoked takes effect in every worker and replica
    # within this bound; a stat on every request cost more than the rest of a key's check.
    keys_recheck_ms: int = Field(default=500, ge=0, le=10_000)

    # Producer: how long a record may wait for Kafka before the request fails with 503,
    # and how many records may wait in the producer queue before requests get 429.
    delivery_timeout_ms: int = Field(default=10_000, ge=1000)
    queue_max_records: int = Field(default=200_000, ge=1000)
    compression: str = Field(default="zstd", pattern="^(none|gzip|snappy|lz4|zstd)$")
    # Batching: a record waits at most this long for others to share its produce request.
    # Measured (2 workers, wrk, alternating rounds; docs/performance.md): 1 ms served single
    # readings best (6,200-8,500 req/s against 3,500 at 5 ms, whose wait every request
    # pays) and batches as well as 5 ms; 0 sent so many small requests that the broker
    # took a third more CPU and single readings fell to ~5,000 req/s.
    linger_ms: float = Field(default=1, ge=0)
    # Delivery reports: served on the event loop ("loop", polled every poll_interval_ms
    # while records are in flight) or by a poll thread ("thread").
    poll_mode: str = Field(default="loop", pattern="^(loop|thread)$")
    poll_interval_ms: float = Field(default=1.0, gt=0, le=100)
    # ...or on every turn of the loop while fewer than this many records are in flight (0:
    # never). Alternating rounds (2 workers, wrk): single readings +9-16 % req/s (p50 -0.5
    # ms, p99 +3-6 ms), batches of 100 and 1,000 -1-3 %; below 256 cost batches 3-7 %.
    poll_spin_below: int = Field(default=32, ge=0)
    retry_after_seconds: int = Field(default=5, ge=1)

    # Backfill jobs (ingest.jobs): their state lives in a compacted topic; a job reads an
    # openSenseMap-compatible API (this one unless the request names another).
    jobs_topic: str = "iotpipe.jobs"
    jobs_source_url: str = "https://api.opensensemap.org"
    # URL prefixes a request may name as its source (the default source is always
    # allowed): an admin key must not turn ingest into a proxy into its own network.
    jobs_allowed_sources: list[str] = Field(default_factory=list)
    jobs_instance: str = Field(default_factory=lambda: socket.gethostname() or "ingest")
    jobs_concurrency: int = Field(default=2, ge=1)  # jobs running at once on this instance
    jobs_chunk_records: int = Field(default=1000, ge=1)  # readings per publish call
    jobs_page_rows: int = Field(default=10_000, ge=1)  # the source's rows per call at most
    jobs_window_days: float = Field(default=28.0, gt=0)  # time frame per call at most
    jobs_max_range_days: float = Field(default=366.0, gt=0)
    jobs_source_timeout_seconds: float = Field(default=30.0, gt=0)
    jobs_retry_attempts: int = Field(default=6, ge=1)
    jobs_retry_base_seconds: float = Field(default=1.0, ge=0)
    jobs_retry_cap_seconds: float = Field(default=60.0, ge=0)
    jobs_lease_seconds: float = Field(default=300.0, gt=0)
