from __future__ import annotations

from pathlib import Path

import pytest

from ingest.settings import IngestSettings
from iotpipe.endpoints import endpoint_settings, resolve_endpoints
from iotpipe.stack.settings import StackLayout, StackSettings, save_layout
from sink.settings import SinkSettings


def test_local_stack_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "REGISTRY_URL", "MONGODB_URI"):
        monkeypatch.delenv(f"IOTPIPE_{var}", raising=False)
    save_layout(
        tmp_path,
        StackLayout.from_settings(
            StackSettings(state_dir=tmp_path, kafka_port=39092, mongodb_port=39017)
        ),
    )
    endpoints = resolve_endpoints(stack=StackSettings(state_dir=tmp_path))
    assert endpoints.kafka == "127.0.0.1:39092"
    assert endpoints.mongodb.get_secret_value() == "mongodb://127.0.0.1:39017/"


def test_environment_names_other_endpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOTPIPE_KAFKA_BOOTSTRAP_SERVERS", "broker-1:9092,broker-2:9092")
    monkeypatch.setenv("IOTPIPE_MONGODB_URI", "mongodb://sink:s3cret@db:27017/")
    endpoints = resolve_endpoints(stack=StackSettings(state_dir=tmp_path))
    assert endpoints.kafka == "broker-1:9092,broker-2:9092"
    assert endpoints.registry == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert "s3cret" not in repr(endpoints)


def test_services_fall_back_to_the_shared_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ingest and sink pass their own endpoint settings, usually unset: the IOTPIPE_*
    environment must still apply, and a service's own value must win over it."""
    monkeypatch.setenv("IOTPIPE_KAFKA_BOOTSTRAP_SERVERS", "shared:9092")
    monkeypatch.setenv("IOTPIPE_REGISTRY_URL", "http://registry:8080/apis/ccompat/v7")
    monkeypatch.setenv("IOTPIPE_SINK_KAFKA_BOOTSTRAP_SERVERS", "sink-only:9092")
    stack = StackSettings(state_dir=tmp_path)
    for own, kafka in ((IngestSettings(), "shared:9092"), (SinkSettings(), "sink-only:9092")):
        resolved = resolve_endpoints(
            endpoint_settings(
                kafka_bootstrap_servers=own.kafka_bootstrap_servers,
                registry_url=own.registry_url,
            ),
            stack,
        )
        assert resolved.kafka == kafka
        assert resolved.registry == "http://registry:8080/apis/ccompat/v7"
