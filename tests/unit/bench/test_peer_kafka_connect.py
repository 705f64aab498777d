"""The Kafka Connect peer's pure parts: the registry URL it derives, the property files it
renders, its cache key and cache folder, and the rate it computes from the documents' stamps.
(Building and running the worker is tests/integration/bench/test_peer_kafka_connect.py.)"""

from __future__ import annotations

import math
import re
import shutil
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iotpipe.bench.peers import kafka_connect as kc
from iotpipe.stack.install import DONE_MARK, build_once

ASSETS = Path(__file__).resolve().parents[3] / "compose" / "local" / "peers" / "kafka-connect"

WORKER = {
    "bootstrap": "127.0.0.1:9092",
    "offsets_file": "/tmp/run/x.offsets",
    "plugin_path": "/cache/kafka-connect/abc/plugins",
    "rest_port": 18083,
    "max_poll_records": 2000,
}
CONNECTOR = {
    "name": "iotpipe-bench-1234",
    "tasks": 1,
    "topic": "bench-sink-1234",
    "mongodb": "mongodb://127.0.0.1:27017/",
    "database": "bench_peer_1234",
    "registry_url": "http://127.0.0.1:8081/apis/registry/v2",
}


def properties(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def test_registry_v2_url_from_the_ccompat_endpoint() -> None:
    assert (
        kc.registry_v2_url("http://127.0.0.1:8081/apis/ccompat/v7")
        == "http://127.0.0.1:8081/apis/registry/v2"
    )
    assert kc.registry_v2_url("https://reg.example:443/apis/ccompat/v7/") == (
        "https://reg.example:443/apis/registry/v2"
    )


def test_registry_v2_url_refuses_what_is_not_a_url() -> None:
    with pytest.raises(ValueError, match="not a registry URL"):
        kc.registry_v2_url("127.0.0.1:8081")


def test_worker_properties_render_every_placeholder() -> None:
    rendered = kc.render((ASSETS / "worker.properties").read_text(), WORKER)
    assert "$" not in rendered
    props = properties(rendered)
    assert props["bootstrap.servers"] == "127.0.0.1:9092"
    assert props["plugin.path"] == "/cache/kafka-connect/abc/plugins"
    assert props["listeners"] == "http://127.0.0.1:18083"
    assert props["offset.storage.file.filename"] == "/tmp/run/x.offsets"
    assert props["consumer.max.poll.records"] == "2000"
    assert int(props["offset.flush.interval.ms"]) <= 1000  # done is told by commits


def test_connector_properties_do_the_sinks_work() -> None:
    rendered = kc.render((ASSETS / "connector.properties").read_text(), CONNECTOR)
    # No placeholder left; a "$" remains only in the transforms' nested class names.
    assert set(re.findall(r"\$\w+", rendered)) == {"$Value", "$Key"}
    props = properties(rendered)
    assert props["name"] == "iotpipe-bench-1234"
    assert props["topics"] == "bench-sink-1234"
    assert props["database"] == "bench_peer_1234"
    assert props["collection"] == "readings"
    assert props["connector.class"] == "com.mongodb.kafka.connect.MongoSinkConnector"
    # Avro in Confluent's framing, decoded against the registry by content id.
    assert props["value.converter"] == "io.apicurio.registry.utils.converter.AvroConverter"
    assert props["value.converter.apicurio.registry.url"] == CONNECTOR["registry_url"]
    assert props["value.converter.apicurio.registry.use-id"] == "contentId"
    assert props["value.converter.apicurio.registry.id-handler"].endswith("Legacy4ByteIdHandler")
    # Unordered plain inserts, like our sink, and no record silently skipped.
    assert props["writemodel.strategy"].endswith("InsertOneDefaultStrategy")
    assert props["bulk.write.ordered"] == "false"
    assert props["errors.tolerance"] == "none"
    # Our sink's document: an ObjectId _id, stored_time (the record's timestamp, a date)
    # and source (topic-partition-offset) beside the record's fields
    # (tests/integration/bench/test_fair_sink_peer.py compares the stored documents).
    assert props["document.id.strategy"].endswith("BsonOidStrategy")
    assert props["transforms.stamp.type"] == "org.apache.kafka.connect.transforms.InsertField$Value"
    assert props["transforms.stamp.timestamp.field"] == "stored_time"
    assert props["post.processor.chain"].split(",")[1].endswith(".KafkaMetaAdder")
    assert "value.topic-partition-offset" in props["field.renamer.mapping"]
    assert props["value.projection.list"] == "CREATE_TIME"


@pytest.mark.parametrize("template", ["worker.properties", "connector.properties"])
def test_a_missing_value_is_an_error_not_a_literal_placeholder(template: str) -> None:
    values = WORKER if template.startswith("worker") else CONNECTOR
    some = dict(list(values.items())[1:])
    with pytest.raises(KeyError):
        kc.render((ASSETS / template).read_text(), some)


def test_a_value_cannot_add_a_property() -> None:
    with pytest.raises(ValueError, match="span lines"):
        kc.render("topics=$topic\n", {"topic": "t\nconnection.uri=mongodb://elsewhere"})


def copy_assets(tmp_path: Path) -> Path:
    copy = tmp_path / "kafka-connect"
    shutil.copytree(ASSETS, copy)
    return copy


def test_build_key_is_stable_and_follows_the_poms(tmp_path: Path) -> None:
    assets = copy_assets(tmp_path)
    key = kc.build_key(assets)
    assert key == kc.build_key(ASSETS)
    assert len(key) == 12
    (assets / "connector.properties").write_text("# rendered per run\n")
    assert kc.build_key(assets) == key  # templates are not build inputs
    pom = assets / "mongodb-sink.pom.xml"
    pom.write_text(pom.read_text().replace("2.0.1", "2.0.2"))
    assert kc.build_key(assets) != key


def test_build_key_follows_the_plugins_manifests(tmp_path: Path) -> None:
    assets = copy_assets(tmp_path)
    key = kc.build_key(assets)
    services = assets / "manifests" / "mongodb-sink" / "META-INF" / "services"
    (services / "org.apache.kafka.connect.source.SourceConnector").write_text("x.Source\n")
    assert kc.build_key(assets) != key


def test_manifest_jar_lists_the_classes_the_peer_uses(tmp_path: Path) -> None:
    found = {}
    for plugin in kc.PLUGINS:
        jar = tmp_path / f"{plugin}.jar"
        kc.manifest_jar(ASSETS, plugin, jar)
        with zipfile.ZipFile(jar) as packed:
            for name in packed.namelist():
                assert name.startswith("META-INF/services/org.apache.kafka.connect.")
                found[name.rpartition("/")[2]] = packed.read(name).decode().split()
    assert found == {
        "org.apache.kafka.connect.sink.SinkConnector": [
            "com.mongodb.kafka.connect.MongoSinkConnector"
        ],
        "org.apache.kafka.connect.storage.Converter": [
            "io.apicurio.registry.utils.converter.AvroConverter"
        ],
    }
    worker = kc.render((ASSETS / "worker.properties").read_text(), WORKER)
    assert properties(worker)["plugin.discovery"] == "service_load"


def test_every_pom_is_a_build_input() -> None:
    names = {p.name for p in kc._poms(ASSETS)}
    assert names == {p.name for p in ASSETS.glob("*.pom.xml")}
    assert all(p.is_file() for p in kc._poms(ASSETS))


def test_cached_builds_once_and_reuses(tmp_path: Path) -> None:
    calls: list[Path] = []

    def make(out: Path) -> None:
        calls.append(out)
        (out / "worker").mkdir()

    first = build_once(tmp_path / "kafka-connect" / "abc123", make)
    again = build_once(tmp_path / "kafka-connect" / "abc123", make)
    assert first == again == tmp_path / "kafka-connect" / "abc123"
    assert len(calls) == 1
    assert (first / "worker").is_dir()
    assert (first / DONE_MARK).exists()
    assert [p.name for p in (tmp_path / "kafka-connect").iterdir()] == ["abc123"]


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    def make(out: Path) -> None:
        (out / "worker").mkdir()
        raise RuntimeError("dependency did not resolve")

    with pytest.raises(RuntimeError):
        build_once(tmp_path / "kafka-connect" / "abc123", make)
    assert list((tmp_path / "kafka-connect").iterdir()) == []


def test_stamped_rate_is_sink_rates_formula_over_whole_seconds() -> None:
    t0 = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
    # 1,000 documents a second for 10 s: seconds 0..9, a span of 9 s plus one share.
    stamps = [t0 + timedelta(seconds=i // 1000) for i in range(10_000)]
    assert kc.stamped_rate(stamps) == pytest.approx(1000.0)
    # A second with nothing stored (a stall) counts in the span.
    stalled = stamps[:5000] + [s + timedelta(seconds=1) for s in stamps[5000:]]
    assert kc.stamped_rate(stalled) == pytest.approx(10_000 / (10 * 10 / 9))


def test_stamped_rate_without_a_span_is_not_a_number() -> None:
    t0 = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
    assert math.isnan(kc.stamped_rate([]))
    assert math.isnan(kc.stamped_rate([t0] * 500))


def test_the_cause_of_a_java_trace() -> None:
    trace = [
        "org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded",
        "\tat org.apache.kafka.connect.runtime...",
        "Caused by: org.apache.kafka.connect.errors.DataException: bad magic",
        "Caused by: java.net.ConnectException: Connection refused",
    ]
    assert kc._cause(trace) == (
        "org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded "
        "(caused by java.net.ConnectException: Connection refused)"
    )
    assert kc._cause(trace[:2]) == trace[0]
    assert kc._cause([]) == "no trace"


def test_peer_interface() -> None:
    assert isinstance(kc.NAME, str) and kc.NAME
    assert callable(kc.measure)
