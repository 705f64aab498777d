"""The benchmark's pure parts: workload, the limits' encoders, ratios,
targets and report (with and without peers), the no-op servers. (The benchmark itself
runs with `nox -s bench`; no test asserts a timing.)"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastapi.testclient import TestClient
from rich.console import Console

from generated.models import SensorReading
from iotpipe.bench import limits, report
from iotpipe.bench.limits import as_ingested, avro_serializer
from iotpipe.bench.noop import create_app, noop_asgi
from iotpipe.bench.workload import batch_body, readings, single_body
from iotpipe.contract.catalog import Contract
from iotpipe.contract.serde import ContractSerde

BENTHOS = {
    "name": "benthos",
    "single_rps": 5200.0,
    "single_p99_ms": 17.0,
    "batch_100_readings_per_s": 25000.0,
    "batch_1000_readings_per_s": 24000.0,
    "batch_1000_p99_ms": 300.0,
}
KAFKA_CONNECT = {"name": "Kafka Connect + MongoDB sink connector", "sink_docs_per_s": 5000.0}


def figures(**overrides: Any) -> dict[str, Any]:
    return {
        "bare_http_rps": 4000.0,
        "bare_http_fastapi_rps": 3200.0,
        "single": {
            "full": {"rps": 2600.0, "p50_ms": 10.0, "p99_ms": 30.0},
            "half": {"rps": 1300.0, "p50_ms": 4.0, "p99_ms": 9.0},
        },
        "batch_100_readings_per_s": 20000.0,
        "batch_1000_readings_per_s": 26000.0,
        "batch_1000_p99_ms": 250.0,
        "websocket_readings_per_s": 18000.0,
        "bare_producer_readings_per_s": 40000.0,
        "bare_producer_avroserializer_readings_per_s": 20000.0,
        "bare_db_docs_per_s": 10000.0,
        "sink_docs_per_s": 6000.0,
        "e2e": {"rate_readings_per_s": 3000.0, "p50_ms": 60.0, "p99_ms": 400.0},
        "ingest_workers": 2,
        **overrides,
    }


def result(**overrides: Any) -> dict[str, Any]:
    return report.summarize(
        {
            "figures": figures(**overrides),
            "loadgen_cpu_share": {"single_full": 0.2},
            "machine": {"cores": 2},
        }
    )


def printed(result: dict[str, Any]) -> list[str]:
    console = Console(record=True, width=260)
    console.print(report.table(result))
    return console.export_text().splitlines()


def line(lines: list[str], *words: str) -> str:
    found = [x for x in lines if all(w in x for w in words)]
    assert len(found) == 1, (words, found)
    return found[0]


def test_workload_readings_are_valid_and_distinct() -> None:
    rows = readings(40)
    for row in rows:
        SensorReading.model_validate(row)
    assert len({r["event_id"] for r in rows}) == 40
    assert len({r["device_id"] for r in rows}) == 10
    assert "event_id" not in orjson.loads(single_body())
    assert len(orjson.loads(batch_body(100))) == 100


def test_the_limits_work_on_records_as_ingest_writes_them() -> None:
    records = as_ingested(20)
    assert len({r.event_id for r in records}) == 20
    stamps = {r.ingest_time for r in records}
    assert len(stamps) == 1 and None not in stamps  # one request's receive time


def test_the_earlier_limits_encoder_writes_what_ingests_serde_writes() -> None:
    """The AvroSerializer of the earlier runs' limit and the generated codec (ingest's
    ContractSerde) encode the same bytes: only their speed differs."""
    topic, contract = "bench-producer-1a2b", Contract.load()
    registry = SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})
    record_type = contract.on_topic(topic).by_name("SensorReading")
    registry.register_schema(record_type.subject, Schema(record_type.schema_str, "AVRO"))
    encode, serde = avro_serializer(registry, contract, topic), ContractSerde(registry, contract)
    records = as_ingested(40)
    assert [encode(r) for r in records] == [serde.encode(r, topic) for r in records]
    assert limits.ENCODERS == ("generated", "avroserializer")


def test_ratios_compare_each_figure_with_its_limit_and_leave_peers_open() -> None:
    assert result()["ratios"] == {
        "batch_vs_producer": 0.65,  # the best batch (1000)
        "batch_vs_producer_avroserializer": 1.3,
        "single_vs_http": 0.65,  # against the plain ASGI no-op
        "single_vs_http_fastapi": 0.8125,
        "sink_vs_db": 0.6,
        "batch_1000_vs_benthos": None,
        "single_vs_benthos": None,
        "sink_vs_kafka_connect": None,
        "sink_same_work_vs_kafka_connect": None,
    }


def test_vs_benthos_is_ours_over_benthos_from_the_same_run() -> None:
    done = result(peers={"benthos": BENTHOS, "kafka_connect": KAFKA_CONNECT})
    assert done["vs_benthos"] == {
        "single": 2600 / 5200,
        "batch_100": 20000 / 25000,
        "batch_1000": 26000 / 24000,
    }
    assert done["sink_vs_kafka_connect"] == 6000 / 5000
    assert done["ratios"]["batch_1000_vs_benthos"] == done["vs_benthos"]["batch_1000"]
    assert done["ratios"]["single_vs_benthos"] == 0.5
    assert done["ratios"]["sink_vs_kafka_connect"] == 1.2


def test_an_unavailable_peer_gives_no_ratio() -> None:
    peers = {"benthos": {"name": "benthos", "unavailable": "no Go toolchain"}}
    done = result(peers=peers)
    assert done["vs_benthos"] is None and done["sink_vs_kafka_connect"] is None
    assert done["targets"]["single_vs_benthos"] == {
        "ratio": None, "least": 0.75, "holds": None, "why": "not measured: no Go toolchain",
    }  # fmt: skip
    assert done["targets"]["sink_vs_kafka_connect"]["why"] == "not measured (peers not run)"


def test_targets_of_the_issue() -> None:
    assert {n: t.least for n, t in report.TARGETS.items()} == {
        "batch_1000_vs_benthos": 1.0,
        "single_vs_benthos": 0.75,
        "sink_vs_db": 0.7,
        "sink_vs_kafka_connect": 1.0,
    }
    assert report.E2E_P99_LIMIT_MS == 100.0
    targets = result(peers={"benthos": BENTHOS, "kafka_connect": KAFKA_CONNECT})["targets"]
    assert {n: t["holds"] for n, t in targets.items()} == {
        "batch_1000_vs_benthos": True,  # 26,000 >= 1.0 x 24,000
        "single_vs_benthos": False,  # 0.50 < 0.75
        "sink_vs_db": False,  # 0.60 < 0.70
        "sink_vs_kafka_connect": True,  # 1.2 >= 1.0
        "e2e_p99_ms": False,  # 400 ms
    }
    assert result(e2e={"rate_readings_per_s": 1.0, "p50_ms": 1.0, "p99_ms": 99.0})["targets"][
        "e2e_p99_ms"
    ] == {"ms": 99.0, "below": 100.0, "holds": True}


def test_the_table_gives_each_target_its_verdict(tmp_path: Path) -> None:
    done = result(peers={"benthos": BENTHOS, "kafka_connect": KAFKA_CONNECT})
    lines = printed(done)
    batch = line(lines, "batch of 1000 / Benthos")
    assert "26,000 readings/s (p99 250 ms)" in batch and "Benthos 24,000 readings/s" in batch
    assert "1.08" in batch and ">= 1.00" in batch and "holds" in batch
    single = line(lines, "single, full load / Benthos")
    assert "2,600 req/s" in single and "Benthos 5,200 req/s" in single
    assert "0.50" in single and ">= 0.75" in single and "misses" in single
    assert "misses" in line(lines, "sink / bare inserts")
    connect = line(lines, "sink / Kafka Connect")
    assert "Kafka Connect 5,000 docs/s" in connect and "1.20" in connect and "holds" in connect
    e2e = line(lines, "end to end")
    assert "p99 400 ms" in e2e and "p99 < 100 ms" in e2e and "misses" in e2e
    ours = line(lines, "iotpipe / Benthos")
    assert "single 0.50" in ours and "batch of 100 0.80" in ours and "batch of 1000 1.08" in ours
    assert "2 worker process(es)" in "\n".join(lines)
    data, chart = report.write(done, tmp_path)
    written = json.loads(data.read_text())
    assert written["vs_benthos"] == done["vs_benthos"]
    assert written["sink_vs_kafka_connect"] == 1.2
    assert written["e2e_p99_ms"] == 400.0
    assert written["targets"]["batch_1000_vs_benthos"]["holds"] is True
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_without_peers_the_targets_say_not_measured(tmp_path: Path) -> None:
    done = result()
    lines = printed(done)
    for words in ("batch of 1000 / Benthos", "single, full load / Benthos", "Kafka Connect"):
        row = line(lines, words)
        assert "not measured (peers not run)" in row
        assert "holds" not in row and "misses" not in row
    assert not any("iotpipe / Benthos" in x for x in lines)
    assert "misses" in line(lines, "sink / bare inserts")  # needs no peer
    data, chart = report.write(done, tmp_path)  # the chart draws unmeasured ratios too
    assert json.loads(data.read_text())["vs_benthos"] is None
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_each_figure_is_shown_against_todays_and_the_earlier_limits() -> None:
    lines = printed(result())
    single = [x for x in lines if "│ ingest single, full load " in x]
    assert any("bare HTTP, plain ASGI 4,000 req/s" in x and "0.65" in x for x in single)
    assert any("bare HTTP, FastAPI no-op 3,200 req/s" in x and "0.81" in x for x in single)
    batch = line(lines, "ingest batch of 1000", "generated codec")
    assert "40,000 readings/s" in batch and "0.65" in batch
    best = line(lines, "ingest best batch")
    assert "bare producer, AvroSerializer 20,000 readings/s" in best and "1.30" in best


def test_peers_get_rows_against_the_same_limits_or_say_why_not() -> None:
    peers = {
        "benthos": BENTHOS,
        "kafka_connect": {"name": "Kafka Connect", "unavailable": "jar not served"},
    }
    lines = printed(result(peers=peers))
    single = line(lines, "peer benthos: single")
    assert "5,200 req/s (p99 17 ms)" in single and "plain ASGI 4,000 req/s" in single
    assert "1.30" in single
    batch = line(lines, "peer benthos: batch of 1000")
    assert "24,000 readings/s" in batch and "40,000 readings/s" in batch and "0.60" in batch
    connect = line(
        printed(result(peers={"kafka_connect": KAFKA_CONNECT})), "peer Kafka Connect", "sink"
    )
    assert "5,000 docs/s " in connect and "p99" not in connect
    assert "bare inserts 10,000 docs/s" in connect and "0.50" in connect
    missing = line(lines, "peer Kafka Connect")
    assert "not measured" in missing and "jar not served" in missing
    assert "not measured: jar not served" in line(lines, "sink / Kafka Connect")


def test_the_bare_fastapi_server_reads_the_body_and_answers_202() -> None:
    with TestClient(create_app()) as client:
        response = client.post("/noop", content=single_body())
    assert response.status_code == 202
    assert response.content == b'{"status":"accepted"}'


def test_the_bare_asgi_server_reads_the_whole_body_and_answers_202() -> None:
    body = batch_body(10)
    chunks = [body[:100], body[100:]]
    events = [
        {"type": "http.request", "body": c, "more_body": i == 0} for i, c in enumerate(chunks)
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return events.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/noop"}
    asyncio.run(noop_asgi(scope, receive, send))
    assert events == []  # every chunk read
    assert sent[0]["status"] == 202
    assert dict(sent[0]["headers"])[b"content-length"] == b"21"
    assert sent[1] == {"type": "http.response.body", "body": b'{"status":"accepted"}'}
    with TestClient(noop_asgi) as client:  # lifespan, and readiness
        assert client.get("/healthz").status_code == 200
        assert client.post("/noop", content=single_body()).json() == {"status": "accepted"}
