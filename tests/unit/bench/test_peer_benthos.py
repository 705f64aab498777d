"""The Benthos peer's pure parts: its config (with the run's key digests), the build cache
key and cache, its sources' modules, the arithmetic behind ``delivered`` and the CPU
shares, and which load phases it runs (no Go, no network)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
import yaml

from ingest.auth.keys import KeyEntry, KeyStore
from iotpipe.bench.loadgen import LoadResult
from iotpipe.bench.peers import PeerContext, PeerUnavailable, benthos
from iotpipe.errors import BuildFailed, PrerequisiteMissing
from iotpipe.stack.install import DONE_MARK


def load(rps: float, non2xx: int = 0) -> LoadResult:
    return LoadResult(
        requests=round(rps * 10), requests_per_s=rps, p50_ms=1.0, p99_ms=2.0, mean_ms=1.0,
        non2xx=non2xx, errors=0, cpu_share=0.01,
    )  # fmt: skip


ENTRY = KeyEntry(
    key_id="0123456789ab", device_id="*", role="admin", sha256="ab" * 32, created="2026-12-06"
)


def config(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "port": 4321,
        "topic": "bench-peer-1a2b",
        "kafka": "127.0.0.1:9092",
        "registry": "http://127.0.0.1:8081/apis/ccompat/v7",
        "keys": [ENTRY],
    }
    loaded = yaml.safe_load(benthos.render_config(**{**args, **overrides}))
    assert isinstance(loaded, dict)
    return loaded


def test_the_config_serves_the_readings_path_on_the_given_port() -> None:
    loaded = config()
    assert loaded["http"]["address"] == "127.0.0.1:4321"
    assert loaded["input"]["http_server"]["path"] == "/v1/readings"
    assert "address" not in loaded["input"]["http_server"]  # the /ready server serves it too
    assert loaded["metrics"] == {"none": {}}


def test_the_config_produces_to_the_topic_through_the_plugin() -> None:
    output = config(kafka="127.0.0.1:9092, 127.0.0.1:9093", max_in_flight=16)["output"]
    plugin = output["iotpipe_kafka_avro"]
    assert plugin["seed_brokers"] == ["127.0.0.1:9092", "127.0.0.1:9093"]
    assert plugin["topic"] == "bench-peer-1a2b"
    assert plugin["registry_url"] == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert plugin["record_type"] == "dev.iotpipe.SensorReading"
    assert plugin["max_in_flight"] == 16
    assert plugin["linger_ms"] == 5  # ingest's default linger


def test_the_config_splits_arrays_and_sets_event_id_and_ingest_time() -> None:
    processors = config()["pipeline"]["processors"]
    assert processors[3] == {"unarchive": {"format": "json_array"}}
    assert "uuid_v4()" in processors[4]["mapping"]
    assert "root.ingest_time = now()" in processors[4]["mapping"]


def test_the_config_checks_the_key_first_against_the_key_files_digests(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    kept, key = store.create("bench", "admin")
    revoked, _ = store.create("old", "admin")
    store.revoke(revoked.key_id)
    text = benthos.render_config(
        port=1, topic="t", kafka="k:9092", registry="http://r", keys=store.list()
    )
    first = yaml.safe_load(text)["pipeline"]["processors"][0]
    assert first == {"iotpipe_api_key": {"keys": {kept.key_id: kept.sha256}}}  # not revoked
    assert key.rsplit("_", 1)[1] not in text  # the digest, never the secret


def test_a_refused_key_is_answered_401_and_dropped_before_the_body_is_read() -> None:
    loaded = config()
    processors = loaded["pipeline"]["processors"]
    (branch,) = processors[1]["switch"]
    assert branch["check"] == "errored()"
    respond, sync, drop = branch["processors"]
    assert "error()" in respond["mapping"] and "401" in respond["mapping"]
    assert sync == {"sync_response": {}}
    assert drop == {"mapping": "root = deleted()"}
    assert "this.type()" in processors[2]["mapping"]  # JSON is read only after the check
    response = loaded["input"]["http_server"]["sync_response"]
    assert response["status"] == "401"  # only refusals leave a synchronous response
    assert response["headers"]["WWW-Authenticate"] == 'Bearer realm="iotpipe"'


def test_no_key_renders_a_check_that_refuses_every_request() -> None:
    assert config(keys=[])["pipeline"]["processors"][0] == {"iotpipe_api_key": {"keys": {}}}


def test_values_with_yaml_syntax_stay_plain_strings() -> None:
    odd = 'we: "ird" # topic'
    assert config(topic=odd)["output"]["iotpipe_kafka_avro"]["topic"] == odd


def copy_sources(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(benthos.source_dir(), src)
    return src


def test_the_fingerprint_follows_the_sources(tmp_path: Path) -> None:
    src = copy_sources(tmp_path)
    key = benthos.source_fingerprint(src)
    assert key == benthos.source_fingerprint(benthos.source_dir())
    (src / "config.unrelated").write_text("x")
    assert benthos.source_fingerprint(src) == key
    with (src / "main.go").open("a") as handle:
        handle.write("\n// changed\n")
    assert benthos.source_fingerprint(src) != key


def test_the_sources_build_on_benthos_core_franz_go_and_hamba_avro() -> None:
    go_mod = (benthos.source_dir() / "go.mod").read_text()
    direct = benthos.go_versions(go_mod)
    assert direct == {
        "github.com/hamba/avro/v2": "v2.31.0",
        "github.com/redpanda-data/benthos/v4": "v4.60.0",
        "github.com/twmb/franz-go": "v1.22.3",
    }
    assert "redpanda-data/connect" not in go_mod  # not used, for its licence


def test_go_versions_reads_single_line_requires() -> None:
    go_mod = "module x\n\nrequire a.example/b v1.2.3\nrequire c.example/d v0.1.0 // indirect\n"
    assert benthos.go_versions(go_mod) == {"a.example/b": "v1.2.3"}


def test_a_complete_build_is_reused_without_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = copy_sources(tmp_path)
    done = tmp_path / "cache" / "benthos" / benthos.source_fingerprint(src)
    done.mkdir(parents=True)
    (done / DONE_MARK).touch()

    def no_go(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("must not build")

    monkeypatch.setattr(benthos, "run_logged", no_go)
    assert benthos.build(tmp_path / "cache", src=src) == done / benthos.BINARY


def test_a_build_lands_only_when_it_succeeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = copy_sources(tmp_path)
    cache = tmp_path / "cache"
    calls: list[list[str]] = []

    def fake_build(cmd: list[str | Path], **kwargs: Any) -> None:
        calls.append([str(part) for part in cmd])
        assert kwargs["env"]["GOMODCACHE"] == str(tmp_path / "go" / "mod")
        assert kwargs["env"]["GOTOOLCHAIN"] == "local"
        assert kwargs["cwd"] == src
        Path(cmd[cmd.index("-o") + 1]).write_text("binary")

    monkeypatch.setattr(benthos, "find_go", lambda: Path("/usr/bin/go"))
    monkeypatch.setattr(benthos, "run_logged", fake_build)
    binary = benthos.build(cache, src=src)
    assert binary.read_text() == "binary"
    assert calls[0][:3] == ["nice", "-n", "10"]
    assert [p.name for p in (cache / "benthos").iterdir()] == [binary.parent.name]
    benthos.build(cache, src=src)
    assert len(calls) == 1


def test_a_failed_build_is_a_short_reason_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_args: object, **_kwargs: object) -> None:
        raise BuildFailed(
            "Building the Benthos peer failed (exit 1); full log: /x/benthos-build.log\n"
            "  | go: downloading github.com/redpanda-data/benthos/v4 v4.60.0\n"
            "  | main.go:1:1: expected 'package', found 'EOF'"
        )

    monkeypatch.setattr(benthos, "find_go", lambda: Path("/usr/bin/go"))
    monkeypatch.setattr(benthos, "run_logged", failing)
    with pytest.raises(PeerUnavailable) as caught:
        benthos.build(tmp_path / "cache", src=copy_sources(tmp_path))
    assert str(caught.value) == (
        "build failed: Building the Benthos peer failed (exit 1): "
        "main.go:1:1: expected 'package', found 'EOF'"
    )
    assert list((tmp_path / "cache" / "benthos").iterdir()) == []


def test_no_go_makes_the_peer_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Path:
        raise PrerequisiteMissing("Go is needed")

    monkeypatch.setattr(benthos, "find_go", missing)
    with pytest.raises(PeerUnavailable, match="no Go toolchain"):
        benthos.build(tmp_path / "cache", src=copy_sources(tmp_path))


def test_measure_reports_an_unbuildable_peer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unbuildable(_cache: Path) -> Path:
        raise PeerUnavailable("build failed: no network")

    monkeypatch.setattr(benthos, "build", unbuildable)
    with pytest.raises(PeerUnavailable, match="no network"):
        benthos.measure(context(tmp_path))


def context(tmp_path: Path, key: str = "k") -> PeerContext:
    return PeerContext(
        endpoints={"kafka": "127.0.0.1:9092", "registry": "http://r"}, workdir=tmp_path,
        cache=tmp_path, seconds=10, connections=32, topic="t", prefilled_topic="p", prefill=0,
        database="d", keys_file=tmp_path / "keys.json", key=key,
    )  # fmt: skip


def fake_peer(monkeypatch: pytest.MonkeyPatch, delivered: int) -> list[tuple[int, str, int, float]]:
    """The peer's process, the load generator and the topic replaced: each load phase runs
    at 10 requests/s for 10 s; returns (readings per request, key, connections, seconds)
    per phase."""
    calls: list[tuple[int, str, int, float]] = []

    @contextmanager
    def serving(*_args: object) -> Iterator[object]:
        yield SimpleNamespace(pid=0)

    def run_load(
        _url: str, body: bytes, *, key: str, connections: int, seconds: float
    ) -> LoadResult:
        readings = orjson.loads(body)
        calls.append(
            (len(readings) if isinstance(readings, list) else 1, key, connections, seconds)
        )
        return load(10.0)

    monkeypatch.setattr(benthos, "build", lambda _cache: Path("/bin/true"))
    monkeypatch.setattr(benthos, "serving", serving)
    monkeypatch.setattr(benthos, "post_until_served", lambda *_a, **_k: httpx.Response(200))
    monkeypatch.setattr(benthos, "run_load", run_load)
    monkeypatch.setattr(benthos, "topic_messages", lambda _kafka, _topic: delivered)
    return calls


def test_measure_sends_the_key_in_every_phase_and_runs_ingests_batch_phases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = KeyStore(tmp_path / "keys.json")
    entry, key = store.create("bench", "admin")
    accepted = 1 + 100 + 100 * 100 + 100 * 1000  # warm-up, then 100 requests per phase
    calls = fake_peer(monkeypatch, delivered=accepted)
    figures = benthos.measure(context(tmp_path, key))
    assert calls == [(1, key, 32, 10), (100, key, 8, 10), (1000, key, 4, 10)]
    assert figures["single_rps"] == 10.0
    assert figures["batch_100_readings_per_s"] == 1000.0
    assert figures["batch_1000_readings_per_s"] == 10_000.0
    assert figures["accepted"] == figures["delivered"] == accepted
    rendered = yaml.safe_load((tmp_path / "benthos.yaml").read_text())
    assert rendered["pipeline"]["processors"][0]["iotpipe_api_key"]["keys"] == {
        entry.key_id: entry.sha256
    }


def test_measure_refuses_a_topic_short_of_what_the_load_saw_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_peer(monkeypatch, delivered=100 + 100 * 100)  # the batches of 1000 missing
    with pytest.raises(PeerUnavailable, match="the topic holds 10100 readings"):
        benthos.measure(context(tmp_path))


def test_accepted_readings_count_only_2xx_answers_of_every_phase() -> None:
    single = load(1000.0, non2xx=50)  # 10 000 requests in 10 s, 50 refused
    batch_100 = load(20.0)  # 200 batches of 100
    batch_1000 = load(3.0, non2xx=2)  # 30 batches of 1000, 2 refused
    phases = [(1, single), (100, batch_100), (1000, batch_1000)]
    assert benthos.accepted_readings(phases, 10.0, warmup=1) == 1 + 9950 + 20_000 + 28_000


def test_cpu_seconds_from_proc_stat_with_an_odd_process_name() -> None:
    fields = ["S"] + ["0"] * 10 + ["250", "50"] + ["0"] * 30
    stat = "4242 (iotpipe ) benthos) " + " ".join(fields)
    assert benthos.process_cpu_seconds(stat, 100.0) == 3.0


def test_a_topic_not_served_yet_is_retried_and_other_refusals_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [
        httpx.Response(502, text="UNKNOWN_TOPIC_OR_PARTITION: This server does not host it"),
        httpx.Response(502, text="UNKNOWN_TOPIC_OR_PARTITION: This server does not host it"),
        httpx.Response(200),
    ]
    sent: list[tuple[bytes, dict[str, str]]] = []

    def post(
        url: str, *, content: bytes, headers: dict[str, str], timeout: float
    ) -> httpx.Response:
        sent.append((content, headers))
        return answers.pop(0)

    monkeypatch.setattr(httpx, "post", post)
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    answer = benthos.post_until_served("http://peer/v1/readings", b"{}", key="iotp_k")
    assert answer.status_code == 200
    assert sent == [(b"{}", {"Authorization": "Bearer iotp_k"})] * 3
    answers[:] = [httpx.Response(502, text="missing sensor_id"), httpx.Response(200)]
    assert benthos.post_until_served("http://peer/v1/readings", b"{}").status_code == 502
