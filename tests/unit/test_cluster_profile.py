"""The Kafka cluster profile (compose/kafka-cluster.env) and how a stack of any size reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotpipe.cluster import load_profile, property_name
from iotpipe.errors import ConfigError
from iotpipe.topics import cluster_topic_settings


@pytest.mark.parametrize(
    ("variable", "prop"),
    [
        ("KAFKA_DEFAULT_REPLICATION_FACTOR", "default.replication.factor"),
        ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "transaction.state.log.min.isr"),
        ("KAFKA_SOME__UNDERSCORED_NAME", "some_underscored.name"),  # apache/kafka's rules
        ("KAFKA_A___DASHED", "a-dashed"),
    ],
)
def test_variables_map_to_properties_as_the_kafka_image_does(variable: str, prop: str) -> None:
    assert property_name(variable) == prop


def test_three_brokers_get_the_file_as_written() -> None:
    props = load_profile().broker_properties(3)
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    settings = cluster_topic_settings(3)
    assert (settings.partitions, settings.replication_factor, settings.min_insync_replicas) == (
        6,
        3,
        2,
    )


@pytest.mark.parametrize(("brokers", "factor", "insync"), [(1, 1, 1), (2, 2, 1)])
def test_a_smaller_stack_caps_factors_so_one_broker_may_be_down(
    brokers: int, factor: int, insync: int
) -> None:
    props = load_profile().broker_properties(brokers)
    factors = {v for k, v in props.items() if k.endswith("replication.factor")}
    minimums = {v for k, v in props.items() if k.endswith(("min.isr", "min.insync.replicas"))}
    assert factors == {str(factor)}
    assert minimums == {str(insync)}
    settings = cluster_topic_settings(brokers)
    assert (settings.replication_factor, settings.min_insync_replicas) == (factor, insync)


def test_a_broken_profile_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "kafka-cluster.env"
    bad.write_text("# fine\nKAFKA_MIN_INSYNC_REPLICAS 2\n")
    with pytest.raises(ConfigError, match=r"kafka-cluster\.env:2: expected NAME=value"):
        load_profile(bad)
    bad.write_text("KAFKA_MIN_INSYNC_REPLICAS=two\n")
    with pytest.raises(ConfigError, match="not a whole number"):
        load_profile(bad)
    bad.write_text("KAFKA_MIN_INSYNC_REPLICAS=2\n")
    with pytest.raises(ConfigError, match="does not set IOTPIPE_TOPICS_PARTITIONS"):
        load_profile(bad).topic_numbers(3)
