"""The benchmark's outputs: a table with each target's verdict and each figure against its
limit, the JSON file (``ratios``, ``vs_benthos``, ``sink_vs_kafka_connect``, ``targets``
and ``e2e_p99_ms`` for tools), and a PNG chart.

The targets (issue 19) compare iotpipe with its peers measured in the same run (Benthos
for ingest, Kafka Connect for the sink) and the sink with bare inserts; a target whose
peer was not measured has no verdict (``holds`` is null and the table says why). The
ratios against the limits (bare producer, bare HTTP server, bare inserts) stay in
``ratios`` without a target: they say how far each figure is from what its machinery
alone does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from iotpipe.bench import same_work
from iotpipe.bench.stages import STAGES
from iotpipe.results import pyplot, write_results

__all__ = [
    "E2E_P99_LIMIT_MS",
    "PEER_FIGURES",
    "TARGETS",
    "Target",
    "peer",
    "ratios",
    "sink_vs_kafka_connect",
    "summarize",
    "table",
    "targets",
    "vs_benthos",
    "write",
]

BENTHOS, KAFKA_CONNECT = "benthos", "kafka_connect"  # keys of figures["peers"]


@dataclass(frozen=True)
class Target:
    what: str  # the table's words for the comparison
    least: float  # the ratio must be at least this
    peer: str | None = None  # the peer the ratio needs (None: a limit of this run)


# Ratio (a key of ``ratios``) -> its target (issue 19).
TARGETS = {
    "batch_1000_vs_benthos": Target("ingest batch of 1000 / Benthos batch of 1000", 1.0, BENTHOS),
    "single_vs_benthos": Target("ingest single, full load / Benthos single", 0.75, BENTHOS),
    "sink_vs_db": Target("sink / bare inserts", 0.7),
    "sink_vs_kafka_connect": Target("sink / Kafka Connect sink", 1.0, KAFKA_CONNECT),
}
E2E_P99_LIMIT_MS = 100.0  # end to end p99 at half of peak must stay below


def peer(figures: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A peer's figures, or None when it was not run or not measured."""
    found: dict[str, Any] | None = figures.get("peers", {}).get(name)
    return None if found is None or "unavailable" in found else found


def _not_measured(figures: dict[str, Any], name: str) -> str:
    found = figures.get("peers", {}).get(name)
    return f"not measured: {found['unavailable']}" if found else "not measured (peers not run)"


def vs_benthos(figures: dict[str, Any]) -> dict[str, float] | None:
    """iotpipe's figure / Benthos's, same run: single (req/s at full load), batch of 100
    and batch of 1000 (readings/s); None when Benthos was not measured."""
    benthos = peer(figures, BENTHOS)
    if benthos is None:
        return None
    return {
        "single": figures["single"]["full"]["rps"] / benthos["single_rps"],
        "batch_100": figures["batch_100_readings_per_s"] / benthos["batch_100_readings_per_s"],
        "batch_1000": figures["batch_1000_readings_per_s"] / benthos["batch_1000_readings_per_s"],
    }


def sink_vs_kafka_connect(figures: dict[str, Any]) -> float | None:
    """The sink's docs/s / Kafka Connect's, same run; None when it was not measured."""
    connect = peer(figures, KAFKA_CONNECT)
    return None if connect is None else figures["sink_docs_per_s"] / connect["sink_docs_per_s"]


def sink_same_work_vs_kafka_connect(figures: dict[str, Any]) -> float | None:
    """Like with like: our sink doing only the peer's work (readings only, the same
    documents: iotpipe.bench.same_work) over Kafka Connect's docs/s; None when either
    was not measured."""
    connect, ours = peer(figures, KAFKA_CONNECT), figures.get("sink_same_work_docs_per_s")
    return None if connect is None or ours is None else ours / connect["sink_docs_per_s"]


def ratios(figures: dict[str, Any]) -> dict[str, float | None]:
    """Each figure against its limit (same run) and against its peer (None: not measured).

    ``batch_vs_producer`` takes the best batch (100 or 1000) against the bare producer
    with the generated codec, ``..._avroserializer`` against the earlier runs' limit
    (confluent-kafka's AvroSerializer); ``single_vs_http`` is against the plain ASGI
    no-op, ``..._fastapi`` against the FastAPI no-op (the earlier runs' limit)."""
    best_batch = max(figures["batch_100_readings_per_s"], figures["batch_1000_readings_per_s"])
    single = figures["single"]["full"]["rps"]
    benthos = vs_benthos(figures)
    return {
        "batch_vs_producer": best_batch / figures["bare_producer_readings_per_s"],
        "batch_vs_producer_avroserializer": (
            best_batch / figures["bare_producer_avroserializer_readings_per_s"]
        ),
        "single_vs_http": single / figures["bare_http_rps"],
        "single_vs_http_fastapi": single / figures["bare_http_fastapi_rps"],
        "sink_vs_db": figures["sink_docs_per_s"] / figures["bare_db_docs_per_s"],
        "batch_1000_vs_benthos": None if benthos is None else benthos["batch_1000"],
        "single_vs_benthos": None if benthos is None else benthos["single"],
        "sink_vs_kafka_connect": sink_vs_kafka_connect(figures),
        "sink_same_work_vs_kafka_connect": sink_same_work_vs_kafka_connect(figures),
    }


def targets(figures: dict[str, Any], computed: dict[str, float | None]) -> dict[str, Any]:
    """Each target: its ratio, the least it should be and whether it ``holds`` (None when
    its peer was not measured, with ``why``); and ``e2e_p99_ms`` below its limit."""
    out: dict[str, Any] = {}
    for name, target in TARGETS.items():
        ratio = computed[name]
        entry: dict[str, Any] = {"ratio": ratio, "least": target.least}
        if ratio is None:
            entry |= {"holds": None, "why": _not_measured(figures, target.peer or "")}
        else:
            entry["holds"] = ratio >= target.least
        out[name] = entry
    p99 = figures["e2e"]["p99_ms"]
    out["e2e_p99_ms"] = {"ms": p99, "below": E2E_P99_LIMIT_MS, "holds": p99 < E2E_P99_LIMIT_MS}
    return out


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (a run's figures) with what is derived from them: ``ratios``,
    ``vs_benthos``, ``sink_vs_kafka_connect``, ``targets`` and ``e2e_p99_ms``."""
    figures = result["figures"]
    computed = ratios(figures)
    return {
        **result,
        "ratios": computed,
        "vs_benthos": vs_benthos(figures),
        "sink_vs_kafka_connect": computed["sink_vs_kafka_connect"],
        "targets": targets(figures, computed),
        "e2e_p99_ms": figures["e2e"]["p99_ms"],
    }


# -- table ---------------------------------------------------------------------------------
def _verdict(holds: bool | None, why: str = "") -> str:
    if holds is None:
        return f"[yellow]{why}[/]"
    return "[green]holds[/]" if holds else "[red]misses[/]"


def _rate(value: float, unit: str, p99_ms: float | None = None) -> str:
    tail = f" (p99 {p99_ms:,.0f} ms)" if p99_ms is not None else ""
    return f"{value:,.0f} {unit}{tail}"


def _target_row(out: Table, result: dict[str, Any], name: str, value: str, against: str) -> None:
    target, verdict = TARGETS[name], result["targets"][name]
    ratio = verdict["ratio"]
    measured = ratio is not None
    out.add_row(
        target.what,
        value,
        against if measured else "",
        f"{ratio:.2f}" if measured else "",
        f">= {target.least:.2f}",
        _verdict(verdict["holds"], verdict.get("why", "")),
    )


def table(result: dict[str, Any]) -> Table:
    """Targets (with verdicts), then each figure against its limit, then the peers."""
    f = result["figures"]
    producer, http, db = (
        f["bare_producer_readings_per_s"], f["bare_http_rps"], f["bare_db_docs_per_s"]
    )  # fmt: skip
    benthos, connect = peer(f, BENTHOS) or {}, peer(f, KAFKA_CONNECT) or {}
    out = Table("figure", "value", "against (same run)", "ratio", "target", "verdict",
                title="iotpipe bench")  # fmt: skip
    single, sink = f["single"]["full"], _rate(f["sink_docs_per_s"], "docs/s")
    rows = (
        ("batch_1000_vs_benthos",
         _rate(f["batch_1000_readings_per_s"], "readings/s", f.get("batch_1000_p99_ms")),
         "Benthos " + _rate(benthos.get("batch_1000_readings_per_s", 0.0), "readings/s",
                            benthos.get("batch_1000_p99_ms"))),
        ("single_vs_benthos", _rate(single["rps"], "req/s", single["p99_ms"]),
         "Benthos " + _rate(benthos.get("single_rps", 0.0), "req/s", benthos.get("single_p99_ms"))),
        ("sink_vs_db", sink, "bare inserts " + _rate(db, "docs/s")),
        ("sink_vs_kafka_connect", sink,
         "Kafka Connect " + _rate(connect.get("sink_docs_per_s", 0.0), "docs/s")),
    )  # fmt: skip
    for name, value, against in rows:
        _target_row(out, result, name, value, against)
    e2e, e2e_target = f["e2e"], result["targets"]["e2e_p99_ms"]
    out.add_row(
        f"end to end at half of peak ({e2e['rate_readings_per_s']:,.0f} readings/s)",
        f"p50 {e2e['p50_ms']:.0f} ms, p99 {e2e['p99_ms']:.0f} ms", "", "",
        f"p99 < {E2E_P99_LIMIT_MS:.0f} ms", _verdict(e2e_target["holds"]),
    )  # fmt: skip
    out.add_section()
    _limit_rows(out, f)
    if f.get("peers"):
        out.add_section()
    limits = {
        "single_rps": ("bare HTTP, plain ASGI", http),
        "batch_100_readings_per_s": ("bare producer, generated codec", producer),
        "batch_1000_readings_per_s": ("bare producer, generated codec", producer),
        "sink_docs_per_s": ("bare inserts", db),
    }
    for found in f.get("peers", {}).values():
        _peer_rows(out, found, limits)
    if connect.get("sink_docs_per_s"):
        out.add_section()
        same_work.add_rows(out, f)
    ours = result.get("vs_benthos")
    if ours is not None:
        out.add_row("iotpipe / Benthos", ", ".join(
            f"{what} {ours[key]:.2f}" for key, what in
            (("single", "single"), ("batch_100", "batch of 100"), ("batch_1000", "batch of 1000"))
        ))  # fmt: skip
    stages = f.get("stage_us_per_reading")
    if stages:
        out.add_section()
        out.add_row(
            "CPU per reading, by stage (us)",
            ", ".join(f"{name} {stages[name]:.1f}" for name in STAGES if name in stages)
            + (f"; write wall {stages['write_wall_us']:.1f}" if "write_wall_us" in stages else ""),
        )
    shares = ", ".join(f"{k} {v:.0%}" for k, v in result["loadgen_cpu_share"].items())
    workers = f.get("ingest_workers")
    out.caption = (
        f"ingest and the bare HTTP servers: {workers} worker process(es); " if workers else ""
    ) + f"load generator CPU (share of all {result['machine']['cores']} cores): {shares}"
    return out


def _limit_rows(out: Table, f: dict[str, Any]) -> None:
    """Each figure against the limit it is held to (no target: how far from the machinery
    alone), the earlier runs' limits beside today's."""
    producer = "bare producer, generated codec "
    old_producer = "bare producer, AvroSerializer "
    http, old_http = "bare HTTP, plain ASGI ", "bare HTTP, FastAPI no-op "

    def row(  # noqa: PLR0917 - one table row
        name: str, value: float, unit: str, label: str, limit: float, p99: float | None
    ) -> None:
        out.add_row(name, _rate(value, unit, p99), label + _rate(limit, unit),
                    f"{value / limit:.2f}")  # fmt: skip

    for size in (100, 1000):
        value = f[f"batch_{size}_readings_per_s"]
        row(f"ingest batch of {size}", value, "readings/s", producer,
            f["bare_producer_readings_per_s"], f.get(f"batch_{size}_p99_ms"))  # fmt: skip
    row("ingest WebSocket (frames of 100)", f["websocket_readings_per_s"], "readings/s", producer,
        f["bare_producer_readings_per_s"], None)  # fmt: skip
    best = max(f["batch_100_readings_per_s"], f["batch_1000_readings_per_s"])
    row("ingest best batch", best, "readings/s", old_producer,
        f["bare_producer_avroserializer_readings_per_s"], None)  # fmt: skip
    single = f["single"]["full"]["rps"]
    row("ingest single, full load", single, "req/s", http, f["bare_http_rps"], None)
    row("ingest single, full load", single, "req/s", old_http, f["bare_http_fastapi_rps"], None)
    for load in ("full", "half"):
        s = f["single"][load]
        latency = f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms"
        out.add_row(f"single latency, {load} load ({s['rps']:,.0f} req/s)", latency)


# A peer's figure -> what it is, its unit and its p99 latency's key (each beside the limit
# of ingest's or the sink's figure of the same kind).
PEER_FIGURES = {
    "single_rps": ("single, full load", "req/s", "single_p99_ms"),
    "batch_100_readings_per_s": ("batch of 100", "readings/s", "batch_100_p99_ms"),
    "batch_1000_readings_per_s": ("batch of 1000", "readings/s", "batch_1000_p99_ms"),
    "sink_docs_per_s": ("sink from the pre-filled topic", "docs/s", None),
}


def _peer_rows(out: Table, found: dict[str, Any], limits: dict[str, tuple[str, float]]) -> None:
    """Rows for one peer: its figures against the same limits, or why it was not run."""
    if "unavailable" in found:
        out.add_row(f"peer {found['name']}", "not measured", "", "", "", found["unavailable"])
        return
    for key, (what, unit, p99) in PEER_FIGURES.items():
        if key in found:
            value, (label, limit) = found[key], limits[key]
            out.add_row(f"peer {found['name']}: {what}", _rate(value, unit, found.get(p99 or "")),
                        f"{label} {_rate(limit, unit)}", f"{value / limit:.2f}")  # fmt: skip


# -- files -----------------------------------------------------------------------------------
def write(result: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    return write_results(result, folder, _chart)


def _chart(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    names = list(TARGETS)
    found = [result["ratios"][n] for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [4, 1]})
    labels = [n.replace("_vs_", "\nvs ") for n in names]
    left.bar(
        labels,
        [r or 0.0 for r in found],
        color=[
            "#3b7dd8" if r is not None and r >= TARGETS[n].least else "#d8553b"
            for n, r in zip(names, found, strict=True)
        ],
    )
    left.scatter(
        labels, [TARGETS[n].least for n in names], marker="_", s=2500, color="black",
        label="target (at least)", zorder=3,
    )  # fmt: skip
    for i, r in enumerate(found):
        left.annotate("not measured" if r is None else f"{r:.2f}", (i, r or 0.0),
                      ha="center", va="bottom", fontsize=9)  # fmt: skip
    tallest = max([r or 0.0 for r in found] + [t.least for t in TARGETS.values()])
    left.set_ylim(0, tallest * 1.3)  # room above the bars for their labels and the legend
    left.set_ylabel("ratio (same run)")
    left.set_title("targets: iotpipe against its peers and bare inserts")
    left.legend(loc="upper left", markerscale=0.4)
    p99 = result["e2e_p99_ms"]
    right.bar(["e2e p99"], [p99], color="#3b7dd8" if p99 < E2E_P99_LIMIT_MS else "#d8553b")
    right.annotate(f"{p99:.0f} ms", (0, p99), ha="center", va="bottom", fontsize=9)
    right.axhline(E2E_P99_LIMIT_MS, color="black", linestyle="--",
                  label=f"{E2E_P99_LIMIT_MS:.0f} ms")  # fmt: skip
    right.set_ylim(0, max(p99, E2E_P99_LIMIT_MS) * 1.3)
    right.set_ylabel("ms")
    right.set_title("end to end, half of peak")
    right.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
