from __future__ import annotations

from pathlib import Path

import pytest

from iotpipe.endpoints import resolve_endpoints
from iotpipe.stack.settings import StackLayout, StackSettings, save_layout


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
