"""The jobs topic as ``iotpipe topics ensure`` and ingest make it: compacted, kept forever."""

from __future__ import annotations

import pytest

from iotpipe.errors import ConfigError
from iotpipe.topics import JOBS_TOPIC, jobs_topic_spec


def test_the_jobs_topic_is_compacted_kept_forever_and_has_one_partition() -> None:
    spec = jobs_topic_spec(replication_factor=3, min_insync_replicas=2)
    assert (spec.name, spec.partitions, spec.replication_factor) == (JOBS_TOPIC, 1, 3)
    assert dict(spec.configs) == {
        "cleanup.policy": "compact",
        "retention.ms": "-1",
        "min.insync.replicas": "2",
    }


def test_impossible_durability_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"min.insync.replicas"):
        jobs_topic_spec(replication_factor=1, min_insync_replicas=2)
