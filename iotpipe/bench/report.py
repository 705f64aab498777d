"""The benchmark's outputs: a table with each figure against its limit, the JSON file
(``ratios`` and ``e2e_p99_ms`` for tools), and a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from iotpipe.results import pyplot, write_results

__all__ = ["PEER_FIGURES", "TARGETS", "ratios", "table", "write"]

# Ratio -> the least it should be (issue: performance targets).
TARGETS = {"batch_vs_producer": 0.5, "single_vs_http": 0.6, "sink_vs_db": 0.7}
E2E_P99_LIMIT_MS = 250.0


def ratios(figures: dict[str, Any]) -> dict[str, float]:
    best_batch = max(figures["batch_100_readings_per_s"], figures["batch_1000_readings_per_s"])
    return {
        "batch_vs_producer": best_batch / figures["bare_producer_readings_per_s"],
        "single_vs_http": figures["single"]["full"]["rps"] / figures["bare_http_rps"],
        "sink_vs_db": figures["sink_docs_per_s"] / figures["bare_db_docs_per_s"],
    }


def _verdict(ok: bool) -> str:
    return "[green]holds[/]" if ok else "[red]misses[/]"


def table(result: dict[str, Any]) -> Table:
    f, r = result["figures"], result["ratios"]
    producer, http, db = (
        f["bare_producer_readings_per_s"], f["bare_http_rps"], f["bare_db_docs_per_s"]
    )  # fmt: skip
    out = Table("figure", "value", "limit (same run)", "ratio", "target", "", title="iotpipe bench")

    def row(  # noqa: PLR0917 - one table row
        name: str, value: float, unit: str, limit: float, target: str, ok: bool | None
    ) -> None:
        out.add_row(
            name, f"{value:,.0f} {unit}", f"{limit:,.0f} {unit}", f"{value / limit:.2f}", target,
            "" if ok is None else _verdict(ok),
        )  # fmt: skip

    row("ingest batch of 100", f["batch_100_readings_per_s"], "readings/s", producer, "", None)
    row("ingest batch of 1000", f["batch_1000_readings_per_s"], "readings/s", producer,
        ">= 0.50 (best batch)", r["batch_vs_producer"] >= TARGETS["batch_vs_producer"])  # fmt: skip
    row("ingest WebSocket (frames of 100)", f["websocket_readings_per_s"], "readings/s", producer,
        "", None)  # fmt: skip
    row("ingest single, full load", f["single"]["full"]["rps"], "req/s", http, ">= 0.60",
        r["single_vs_http"] >= TARGETS["single_vs_http"])  # fmt: skip
    row("sink from a pre-filled topic", f["sink_docs_per_s"], "docs/s", db, ">= 0.70",
        r["sink_vs_db"] >= TARGETS["sink_vs_db"])  # fmt: skip
    for load in ("full", "half"):
        s = f["single"][load]
        latency = f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms"
        out.add_row(f"single latency, {load} load ({s['rps']:,.0f} req/s)", latency)
    e2e = f["e2e"]
    out.add_row(
        f"end to end at half of peak ({e2e['rate_readings_per_s']:,.0f} readings/s)",
        f"p50 {e2e['p50_ms']:.0f} ms, p99 {e2e['p99_ms']:.0f} ms",
        f"{E2E_P99_LIMIT_MS:.0f} ms",
        "",
        "p99 < 250 ms",
        _verdict(e2e["p99_ms"] < E2E_P99_LIMIT_MS),
    )
    for peer in f.get("peers", {}).values():
        _peer_rows(out, peer, {"single_rps": http, "batch_100_readings_per_s": producer,
                               "sink_docs_per_s": db})  # fmt: skip
    shares = ", ".join(f"{k} {v:.0%}" for k, v in result["loadgen_cpu_share"].items())
    out.caption = f"load generator CPU (share of all {result['machine']['cores']} cores): {shares}"
    return out


# A peer's figure -> what it is, its unit, and the ingest/sink row it sits beside.
PEER_FIGURES = {
    "single_rps": ("single, full load", "req/s"),
    "batch_100_readings_per_s": ("batch of 100", "readings/s"),
    "sink_docs_per_s": ("sink from the pre-filled topic", "docs/s"),
}


def _peer_rows(out: Table, peer: dict[str, Any], limits: dict[str, float]) -> None:
    """Rows for one peer: its figures against the same limits, or why it was not run."""
    if "unavailable" in peer:
        out.add_row(f"peer {peer['name']}", "not measured", "", "", "", peer["unavailable"])
        return
    for key, (what, unit) in PEER_FIGURES.items():
        if key in peer:
            value, limit = peer[key], limits[key]
            out.add_row(f"peer {peer['name']}: {what}", f"{value:,.0f} {unit}",
                        f"{limit:,.0f} {unit}", f"{value / limit:.2f}", "", "")  # fmt: skip


def write(result: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    return write_results(result, folder, _chart)


def _chart(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    r = result["ratios"]
    names = list(TARGETS)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 1]})
    left.bar(
        names,
        [r[n] for n in names],
        color=["#3b7dd8" if r[n] >= TARGETS[n] else "#d8553b" for n in names],
    )
    left.scatter(
        names, [TARGETS[n] for n in names], marker="_", s=2000, color="black", label="target"
    )
    left.set_ylabel("ratio to the limit (same run)")
    left.set_title("throughput against its limit")
    left.legend()
    p99 = result["e2e_p99_ms"]
    right.bar(["e2e p99"], [p99], color="#3b7dd8" if p99 < E2E_P99_LIMIT_MS else "#d8553b")
    right.axhline(E2E_P99_LIMIT_MS, color="black", linestyle="--", label="250 ms")
    right.set_ylabel("ms")
    right.set_title("end to end, half of peak")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
