"""The soak's own corner of a stack: a fresh topic (and its DLQ), database, admin key and
the environment ingest and sink run with; all removed afterwards.

Own names rather than the defaults, so the soak can share a running stack with tests and
the demo without reading or writing their data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from iotpipe.bench import world as bench_world
from iotpipe.processes import free_port

__all__ = ["SoakWorld", "soak_world"]


@dataclass(frozen=True)
class SoakWorld:
    endpoints: dict[str, str]
    topic: str
    database: str
    key: str
    workdir: Path
    ingest_port: int
    sink_health_port: int

    @property
    def group_id(self) -> str:
        return f"{self.topic}-sink"

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def sink_url(self) -> str:
        return f"http://127.0.0.1:{self.sink_health_port}"

    def _common(self) -> dict[str, str]:
        return bench_world.service_env(self.endpoints, self.workdir / "keys.json")

    def ingest_env(self) -> dict[str, str]:
        return bench_world.ingest_env(self._common(), self.topic, self.ingest_port)

    def sink_env(self) -> dict[str, str]:
        common = self._common()
        return bench_world.sink_env(common, self.topic, self.database, self.sink_health_port)


@contextmanager
def soak_world(endpoints: dict[str, str], *, keep_logs: Path | None = None) -> Iterator[SoakWorld]:
    """Create the topics, register the contract on them, make a key; drop it all at the
    end. Process logs are kept in ``keep_logs`` when given."""
    tag = uuid.uuid4().hex[:8]
    topic, database = f"soak-{tag}", f"soak_{tag}"
    with bench_world.run_world(
        endpoints, owner="soak", topics=[topic], databases=[database], workdir=keep_logs,
        keep_workdir=keep_logs is not None,
    ) as run:  # fmt: skip
        yield SoakWorld(
            endpoints=endpoints,
            topic=topic,
            database=database,
            key=run.key,
            workdir=run.workdir,
            ingest_port=free_port(),
            sink_health_port=free_port(),
        )
