"""``iotpipe topics``: specs and the ensure logic over an in-memory admin (no Kafka)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pytest

from iotpipe.errors import ConfigError, KafkaAdminError
from iotpipe.topics import (
    MANAGED_CONFIGS,
    TopicSpec,
    TopicState,
    devices_topic_spec,
    dlq_name,
    ensure_topics,
    pipeline_topics,
)
from tests.support import run_cli


@dataclass
class FakeAdmin:
    """A cluster of ``brokers`` brokers holding ``topics``; records every change made."""

    brokers: int = 1
    topics: dict[str, TopicState] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    created_meanwhile: set[str] = field(default_factory=set)
    where: str = "fake:9092"

    def broker_count(self) -> int:
        return self.brokers

    def describe(self, names: Sequence[str]) -> dict[str, TopicState]:
        return {name: self.topics[name] for name in names if name in self.topics}

    def create(self, spec: TopicSpec) -> bool:
        if spec.name in self.created_meanwhile:  # another process won the race
            self.topics[spec.name] = TopicState(spec.name, 1, spec.replication_factor, {})
            return False
        self.calls.append(f"create {spec.name}")
        self.topics[spec.name] = TopicState(
            spec.name, spec.partitions, spec.replication_factor, dict(spec.configs)
        )
        return True

    def add_partitions(self, name: str, total: int) -> None:
        self.calls.append(f"grow {name} {total}")
        self.topics[name] = replace(self.topics[name], partitions=total)

    def set_configs(self, name: str, configs: Mapping[str, str]) -> None:
        self.calls.append(f"set {name} {sorted(configs)}")
        self.topics[name] = replace(
            self.topics[name], configs={**self.topics[name].configs, **configs}
        )


def test_specs_name_the_dead_letter_topic_and_carry_durability() -> None:
    main, dlq = pipeline_topics(partitions=12, replication_factor=3, min_insync_replicas=2)
    assert (main.name, dlq.name) == ("sensor-data", "sensor-data.dlq")
    assert dlq_name("it-x") == "it-x.dlq"
    for spec in (main, dlq):
        assert (spec.partitions, spec.replication_factor) == (12, 3)
        assert spec.configs == {
            "min.insync.replicas": "2",
            "retention.ms": str(168 * 3_600_000),
            "cleanup.policy": "delete",
        }
    assert set(main.configs) == set(MANAGED_CONFIGS)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"partitions": 0}, "partitions must be at least 1"),
        ({"replication_factor": 0}, "replication factor must be at least 1"),
        ({"replication_factor": 2, "min_insync_replicas": 3}, "between 1 and the replication"),
        ({"retention_hours": 0}, "positive number of hours"),
        ({"topic": "two words"}, "white space"),
    ],
)
def test_impossible_settings_are_refused_before_kafka_is_asked(
    kwargs: dict[str, object], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        pipeline_topics(**kwargs)  # type: ignore[arg-type]


def test_ensure_creates_what_is_missing_and_a_second_run_changes_nothing() -> None:
    admin = FakeAdmin()
    specs = pipeline_topics(partitions=4)
    first = ensure_topics(admin, specs)
    assert first.ok
    assert admin.calls == ["create sensor-data", "create sensor-data.dlq"]
    assert first.done[0].startswith("sensor-data: created (4 partitions, replication factor 1")
    second = ensure_topics(admin, specs)
    assert admin.calls == ["create sensor-data", "create sensor-data.dlq"]  # nothing more
    assert second.done == ["sensor-data: already as asked", "sensor-data.dlq: already as asked"]


def test_ensure_grows_partitions_and_sets_differing_configs_only() -> None:
    specs = pipeline_topics(partitions=6, retention_hours=24)
    admin = FakeAdmin()
    ensure_topics(admin, pipeline_topics(partitions=3, retention_hours=24))
    admin.calls.clear()
    admin.topics["sensor-data.dlq"] = replace(
        admin.topics["sensor-data.dlq"],
        partitions=6,
        configs={**specs[1].configs, "retention.ms": "1000"},
    )
    report = ensure_topics(admin, specs)
    assert report.ok
    assert admin.calls == ["grow sensor-data 6", "set sensor-data.dlq ['retention.ms']"]
    assert report.done == [
        "sensor-data: partitions 3 -> 6 (records of a device written from now on may go to "
        "another partition than before)",
        "sensor-data.dlq: retention.ms 1000 -> 86400000",
    ]
    assert admin.topics["sensor-data"].partitions == 6


def test_more_partitions_than_asked_stay_and_another_replication_factor_is_a_problem() -> None:
    admin = FakeAdmin(brokers=3)
    ensure_topics(admin, pipeline_topics(partitions=12, replication_factor=1))
    admin.calls.clear()
    report = ensure_topics(admin, pipeline_topics(partitions=6, replication_factor=3))
    assert not report.ok
    assert admin.calls == []
    assert "has 12 partitions, more than the 6 asked" in report.done[0]
    assert report.problems[0].startswith(
        "sensor-data: replication factor is 1, not 3; changing it needs a partition reassignment"
    )


def test_replication_wider_than_the_cluster_is_refused_before_creating_anything() -> None:
    admin = FakeAdmin(brokers=1)
    with pytest.raises(KafkaAdminError, match="replication factor 3 needs at least 3 brokers"):
        ensure_topics(admin, pipeline_topics(replication_factor=3, min_insync_replicas=2))
    assert admin.calls == []
    assert admin.topics == {}


def test_a_topic_created_meanwhile_by_someone_else_is_adjusted_not_an_error() -> None:
    admin = FakeAdmin(created_meanwhile={"sensor-data"})
    report = ensure_topics(admin, pipeline_topics(partitions=2))
    assert report.ok
    assert admin.calls[:2] == ["grow sensor-data 2", f"set sensor-data {sorted(MANAGED_CONFIGS)}"]
    assert admin.topics["sensor-data"].partitions == 2


def test_the_device_registry_topic_is_compacted_kept_forever_and_ensured_alongside() -> None:
    registry = devices_topic_spec(replication_factor=3, min_insync_replicas=2)
    assert (registry.name, registry.partitions, registry.replication_factor) == (
        "iotpipe.devices", 1, 3,
    )  # fmt: skip
    assert registry.configs == {
        "min.insync.replicas": "2",
        "retention.ms": "-1",
        "cleanup.policy": "compact",
    }
    with pytest.raises(ConfigError, match="between 1 and the replication"):
        devices_topic_spec(replication_factor=1, min_insync_replicas=2)
    admin = FakeAdmin()
    report = ensure_topics(admin, [*pipeline_topics(), devices_topic_spec()])
    assert report.done[2] == (
        "iotpipe.devices: created (1 partitions, replication factor 1, min.insync.replicas 1, "
        "retention forever, compacted)"
    )
    admin.topics["iotpipe.devices"] = replace(
        admin.topics["iotpipe.devices"], configs={"cleanup.policy": "delete"}
    )
    again = ensure_topics(admin, [devices_topic_spec()])
    assert "iotpipe.devices: cleanup.policy delete -> compact" in again.done


def test_cli_refuses_impossible_settings_in_one_sentence_without_asking_kafka() -> None:
    result = run_cli(
        "topics",
        "ensure",
        "--replication-factor",
        "2",
        "--min-insync-replicas",
        "3",
        "--kafka-bootstrap-servers",
        "127.0.0.1:1",  # never contacted: the settings are refused first
        env=None,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "min.insync.replicas must be between 1 and the replication factor 2" in " ".join(
        result.stderr.split()
    )
