"""The soak's outputs: a table (RSS per process, errors, lag to zero, the verdict), the
JSON file with every sample, and a PNG of RSS and lag over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from iotpipe.results import pyplot, write_results
from iotpipe.soak.growth import MAX_GROWTH, MAX_SLOPE_MB_PER_MIN

__all__ = ["table", "write"]


def table(result: dict[str, Any]) -> Table:
    bound = f"flat: < {MAX_GROWTH:.0%} and < {MAX_SLOPE_MB_PER_MIN:g} MB/min"
    out = Table(
        "process", "RSS start", "RSS end", "growth", "slope", bound,
        title=f"iotpipe soak: {result['achieved_readings_per_s']:,.0f} readings/s for "
        f"{result['plan']['minutes']:g} min (RSS from {result['plan']['warmup_s']:.0f} s on)",
    )  # fmt: skip
    for name, p in result["processes"].items():
        verdict = ("[green]flat[/]" if p["flat"] else "[red]grows[/]") if p["judged"] else (
            "flat (info)" if p["flat"] else "grows (info)"
        )  # fmt: skip
        out.add_row(
            name, f"{p['start_mb']:.1f} MB", f"{p['end_mb']:.1f} MB",
            f"{p['growth_mb']:+.1f} MB ({p['growth_ratio']:+.1%})",
            f"{p['slope_mb_per_min']:+.2f} MB/min", verdict,
        )  # fmt: skip
    load = result["load"]
    lag = result["lag_to_zero_s"]
    out.add_section()
    errors = load["errors"] + result["ingest_non_2xx"] + result["dead_letters"]
    out.add_row(
        "errors", f"client {load['errors']}", f"ingest {result['ingest_non_2xx']}",
        f"DLQ {result['dead_letters']}", "", _ok(errors == 0),
    )  # fmt: skip
    drained = "timed out" if lag is None else f"{lag:.1f} s"
    out.add_row(
        "consumer lag", f"max {result['lag_max']:,}", f"at stop {result['lag_at_stop']:,}",
        f"to zero {drained}", f"{result['lag_slope_per_min']:+,.0f} /min", _ok(lag is not None),
    )  # fmt: skip
    worst = result.get("p99_ms_max")
    out.add_row("request latency", "p99, worst window", "",
                "-" if worst is None else f"{worst:,.0f} ms", "", "(info)")  # fmt: skip
    verdict = result["verdict"]
    passed = "[green]PASS[/]" if verdict["passed"] else "[red]FAIL[/]"
    out.add_row("verdict", "", "", "", "", passed)
    non_2xx = sum(n for status, n in load["statuses"].items() if not str(status).startswith("2"))
    out.caption = (
        f"requests sent {load['sent']:,}; load generator CPU "
        f"{load['cpu_share']:.1%} of {result['machine']['cores']} cores\n"
        f"client errors: {non_2xx} non-2xx, {load['failed']} without an answer, "
        f"{load['skipped']} not sent (in-flight cap reached: the service stalled)"
        + "".join(f"\n[red]{f}[/]" for f in verdict["failures"])
    )
    return out


def _ok(ok: bool) -> str:
    return "[green]ok[/]" if ok else "[red]fail[/]"


def write(result: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    return write_results(result, folder, _chart)


def _chart(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    samples = result["samples"]
    minutes = [s["t_s"] / 60 for s in samples]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for name, process in result["processes"].items():
        # Change from the RSS start: on one absolute scale a JVM's 700 MB flattens every
        # Python service's trend into a straight line.
        values = [
            None if (mb := s["rss_mb"].get(name)) is None else mb - process["start_mb"]
            for s in samples
        ]
        top.plot(minutes, values, label=f"{name} (start {process['start_mb']:.0f} MB)",
                 linewidth=2 if process["judged"] else 1)  # fmt: skip
    top.axvline(result["plan"]["warmup_s"] / 60, color="grey", linestyle=":", label="warm-up")
    top.set_ylabel("RSS change from start (MB)")
    top.set_title("memory during the soak")
    top.legend(fontsize="small")
    bottom.plot(minutes, [s["lag"] for s in samples], color="#d8553b")
    bottom.set_ylabel("sink consumer lag (records)")
    bottom.set_xlabel("minutes since the load started")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
