"""The benchmark's pure parts: workload, the limits' encoders, wrk's summary, ratios and
report, the no-op servers. (The benchmark itself runs with `nox -s bench`; no test
asserts a timing.)"""

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
from iotpipe.bench.wrk import parse_summary
from iotpipe.contract.catalog import Contract
from iotpipe.contract.serde import ContractSerde

SUMMARY = {
    "requests": 7000,
    "duration_us": 10_000_000,
    "non2xx": 3,
    "errors": 1,
    "p50_us": 4200,
    "p99_us": 19000,
    "mean_us": 4500.5,
}
WRK_OUTPUT = (
    "Running 10s test @ http://127.0.0.1:8000/noop\n  1 threads and 32 connections\n"
    f"  7000 requests in 10.00s, 1.2MB read\n{json.dumps(SUMMARY)}\n"
)


def result(**overrides: Any) -> dict[str, Any]:
    figures = {
        "bare_http_rps": 4000.0,
        "single": {
            "full": {"rps": 2600.0, "p50_ms": 10.0, "p99_ms": 30.0},
            "half": {"rps": 1300.0, "p50_ms": 4.0, "p99_ms": 9.0},
        },
        "batch_100_readings_per_s": 20000.0,
        "batch_1000_readings_per_s": 26000.0,
        "websocket_readings_per_s": 18000.0,
        "bare_producer_readings_per_s": 40000.0,
        "bare_db_docs_per_s": 10000.0,
        "sink_docs_per_s": 6000.0,
        "e2e": {"rate_readings_per_s": 3000.0, "p50_ms": 120.0, "p99_ms": 400.0},
        **overrides,
    }
    out = {
        "figures": figures,
        "loadgen_cpu_share": {"single_full": 0.2},
        "machine": {"cores": 2},
    }
    out["ratios"] = report.ratios(figures)
    out["e2e_p99_ms"] = figures["e2e"]["p99_ms"]
    return out


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


def test_wrk_summary_is_read_from_the_scripts_json_line() -> None:
    parsed = parse_summary(WRK_OUTPUT, cpu_share=0.25)
    assert parsed.requests_per_s == 700.0
    assert (parsed.p50_ms, parsed.p99_ms, parsed.non2xx, parsed.errors) == (4.2, 19.0, 3, 1)
    assert parsed.cpu_share == 0.25


def test_ratios_compare_each_figure_with_its_limit() -> None:
    ratios = result()["ratios"]
    assert ratios == {"batch_vs_producer": 0.65, "single_vs_http": 0.65, "sink_vs_db": 0.6}


def test_report_says_which_targets_hold(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    console.print(report.table(result()))
    text = console.export_text()
    assert text.count("holds") == 2  # batch and single
    assert text.count("misses") == 2  # sink (0.60 < 0.70) and e2e p99 (400 ms)
    data, chart = report.write(result(), tmp_path)
    written = json.loads(data.read_text())
    assert set(written["ratios"]) == {"batch_vs_producer", "single_vs_http", "sink_vs_db"}
    assert written["e2e_p99_ms"] == 400.0
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_peers_get_rows_against_the_same_limits_or_say_why_not() -> None:
    peers = {
        "benthos": {"name": "Benthos", "single_rps": 3000.0, "batch_100_readings_per_s": 8000.0},
        "kafka_connect": {"name": "Kafka Connect", "unavailable": "jar not served"},
    }
    console = Console(record=True, width=250)
    console.print(report.table(result(peers=peers)))
    lines = console.export_text().splitlines()
    single = next(line for line in lines if "peer Benthos: single" in line)
    assert "3,000 req/s" in single and "4,000 req/s" in single and "0.75" in single
    batch = next(line for line in lines if "peer Benthos: batch of 100" in line)
    assert "8,000 readings/s" in batch and "40,000 readings/s" in batch and "0.20" in batch
    missing = next(line for line in lines if "peer Kafka Connect" in line)
    assert "not measured" in missing and "jar not served" in missing


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
