from __future__ import annotations

from pathlib import Path

import pytest

from iotpipe.errors import ConfigError
from iotpipe.stack.settings import (
    StackLayout,
    StackSettings,
    load_layout,
    resolve_layout,
    save_layout,
)


def test_derived_ports_follow_the_main_ports(tmp_path: Path) -> None:
    layout = StackLayout.from_settings(
        StackSettings(state_dir=tmp_path, kafka_port=19092, registry_port=18081)
    )
    assert layout.kafka_controller_port == 19093
    assert layout.registry_management_port == 18082
    assert layout.endpoints() == {
        "kafka": "127.0.0.1:19092",
        "registry": "http://127.0.0.1:18081/apis/ccompat/v7",
        "mongodb": "mongodb://127.0.0.1:27017/",
    }


def test_cluster_id_is_16_bytes_base64url_without_padding(tmp_path: Path) -> None:
    cluster_id = StackLayout.from_settings(StackSettings(state_dir=tmp_path)).cluster_id
    assert len(cluster_id) == 22
    assert "=" not in cluster_id
    assert set(cluster_id) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def test_saved_layout_is_reused_when_no_port_is_given(tmp_path: Path) -> None:
    saved = StackLayout.from_settings(StackSettings(state_dir=tmp_path, kafka_port=29092))
    save_layout(tmp_path, saved)
    assert resolve_layout(StackSettings(state_dir=tmp_path)) == saved


def test_explicit_port_overrides_only_that_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = StackLayout.from_settings(
        StackSettings(state_dir=tmp_path, kafka_port=29092, mongodb_port=29017)
    )
    save_layout(tmp_path, saved)
    monkeypatch.setenv("IOTPIPE_REGISTRY_PORT", "28081")
    layout = resolve_layout(StackSettings(state_dir=tmp_path))
    assert layout.registry_port == 28081
    assert layout.registry_management_port == 28082
    assert layout.kafka_port == 29092
    assert layout.mongodb_port == 29017
    assert layout.cluster_id == saved.cluster_id


def test_corrupt_layout_is_a_clear_config_error(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"stack\.json is not a valid stack layout"):
        load_layout(tmp_path)


def test_ports_out_of_range_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kafka_port"):
        StackSettings(state_dir=tmp_path, kafka_port=70000)


def test_a_cluster_numbers_its_nodes_and_spaces_their_ports(tmp_path: Path) -> None:
    layout = StackLayout.from_settings(
        StackSettings(state_dir=tmp_path, kafka_port=19092, brokers=3)
    )
    nodes = layout.kafka_nodes
    assert [(n.node_id, n.name, n.port, n.controller_port) for n in nodes] == [
        (1, "kafka-1", 19092, 19093),
        (2, "kafka-2", 19094, 19095),
        (3, "kafka-3", 19096, 19097),
    ]
    assert layout.kafka_bootstrap == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    assert layout.service_names() == ["kafka-1", "kafka-2", "kafka-3", "registry", "mongodb"]
    assert layout.expand(["mongodb", "kafka"]) == ["kafka-1", "kafka-2", "kafka-3", "mongodb"]
    assert layout.expand(["kafka-2"]) == ["kafka-2"]
    with pytest.raises(ConfigError, match=r"no service 'kafka-4'.*kafka-1, kafka-2, kafka-3"):
        layout.expand(["kafka-4"])


def test_one_broker_keeps_the_name_kafka(tmp_path: Path) -> None:
    layout = StackLayout.from_settings(StackSettings(state_dir=tmp_path))
    assert [n.name for n in layout.kafka_nodes] == ["kafka"]
    assert layout.expand(["kafka"]) == ["kafka"]
    with pytest.raises(ConfigError, match="no service 'kafka-1'"):
        layout.expand(["kafka-1"])


def test_a_layout_saved_before_clusters_reads_as_one_broker(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text(
        '{"kafka_port": 9092, "kafka_controller_port": 9093, "registry_port": 8081,'
        ' "registry_management_port": 8082, "mongodb_port": 27017, "cluster_id": "x"}'
    )
    layout = resolve_layout(StackSettings(state_dir=tmp_path))
    assert layout.brokers == 1
    assert resolve_layout(StackSettings(state_dir=tmp_path, brokers=3)).brokers == 3


def test_ports_that_collide_in_a_cluster_are_refused(tmp_path: Path) -> None:
    # node 2's broker port (9094) would be node 1's controller port
    settings = StackSettings(
        state_dir=tmp_path, kafka_port=9092, kafka_controller_port=9094, brokers=3
    )
    with pytest.raises(ConfigError, match="would both listen on port 9094"):
        resolve_layout(settings)
    with pytest.raises(ConfigError, match="outside 1-65535"):
        resolve_layout(StackSettings(state_dir=tmp_path, kafka_port=65534, brokers=3))
