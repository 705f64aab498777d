"""``iotpipe bench --scale``'s outputs: the curves (throughput per point, against the first
point and the limit), which resource each point saturates, a table, scale.json and
scale.png (sink docs/s against replicas, ingest readings/s against workers, each with
its limit as a line)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rich.table import Table

from iotpipe.results import pyplot

__all__ = [
    "SATURATED",
    "curve",
    "per_core",
    "pipeline_cores",
    "reading",
    "summarize",
    "table",
    "write",
]

SATURATED = 0.9  # a machine whose busy cores reach this share of its cores is CPU-bound
NOT_GROUPS = {"machine", "steal"}  # keys of a point's cpu that are not process groups
# Not the pipeline's own processes ("wrk": the load generator of older runs).
NOT_PIPELINE = NOT_GROUPS | {"other", "loadgen", "wrk", "bench"}


def pipeline_cores(cpu: dict[str, float]) -> float:
    """Cores the pipeline's own processes used (Kafka, registry, database, sink, ingest):
    not the load generator, the bench itself or other work on the machine."""
    return sum(v for k, v in cpu.items() if k not in NOT_PIPELINE)


def per_core(rate: float, cpu: dict[str, float]) -> float | None:
    """Throughput per core the pipeline used: what a point costs, which other work on a
    shared machine changes much less than the throughput itself."""
    used = pipeline_cores(cpu)
    return round(rate / used) if used > 0 else None


def reading(cpu: dict[str, float], cores: int) -> str:
    """Which resource a point used up, from its CPU per group: the machine's busy cores
    against its cores, then the groups that used most."""
    busy = cpu.get("machine", 0.0)
    groups = sorted(
        ((cores_used, name) for name, cores_used in cpu.items() if name not in NOT_GROUPS),
        reverse=True,
    )
    top = ", ".join(f"{name} {used:.2f}" for used, name in groups[:3] if used > 0)
    state = "CPU-bound" if busy >= SATURATED * cores else "CPU to spare"
    return f"{state}: {busy:.2f} of {cores} cores busy; most: {top or 'none measured'}"


def curve(result: dict[str, Any]) -> dict[str, Any]:
    """Each point's throughput, its ratio to the first point (the speedup) and to its limit
    (bare inserts for the sink, the bare producer for ingest)."""
    found = result["limits"]
    db_limit = found["bare_db_docs_per_s"]
    producer_limit = found["bare_producer_readings_per_s"]
    sink = result["sink"]
    first_sink = sink[0]["docs_per_s"] if sink else float("nan")
    ingest = result["ingest"]
    first = ingest[0] if ingest else None

    def ratio(value: float, against: float) -> float | None:
        return round(value / against, 3) if against and math.isfinite(against) else None

    return {
        "sink": [
            {
                "replicas": p["replicas"],
                "docs_per_s": p["docs_per_s"],
                "speedup": ratio(p["docs_per_s"], first_sink),
                "vs_bare_db": ratio(p["docs_per_s"], db_limit),
                "per_pipeline_core": per_core(p["docs_per_s"], p["cpu"]),
            }
            for p in sink
        ],
        "ingest": [
            {
                "workers": p["workers"],
                **{
                    f"{kind}_readings_per_s": p[kind]["readings_per_s"]
                    for kind in ("batch", "single")
                },
                **{
                    f"{kind}_speedup": ratio(
                        p[kind]["readings_per_s"], first[kind]["readings_per_s"]
                    )
                    for kind in ("batch", "single")
                    if first is not None
                },
                "batch_vs_bare_producer": ratio(p["batch"]["readings_per_s"], producer_limit),
                **{
                    f"{kind}_per_pipeline_core": per_core(p[kind]["readings_per_s"], p[kind]["cpu"])
                    for kind in ("batch", "single")
                },
            }
            for p in ingest
        ],
    }


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """The result with its curve and each point's reading added."""
    cores = result["machine"]["cores"]
    for point in result["sink"]:
        point["reading"] = reading(point["cpu"], cores)
    for point in result["ingest"]:
        for kind in ("batch", "single"):
            point[kind]["reading"] = reading(point[kind]["cpu"], cores)
    for name in ("bare_producer", "bare_db"):
        result["limits"][f"{name}_reading"] = reading(result["limits"][f"{name}_cpu"], cores)
    return {**result, "curve": curve(result)}


def _rate(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:,.0f}/s"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(result: dict[str, Any]) -> Table:
    """One row per point: throughput, speedup over the first point, share of the limit,
    CPU per group (cores) and the reading."""
    plan, found = result["plan"], result["limits"]
    out = Table(
        title=f"iotpipe bench --scale: {plan['brokers']} brokers, {plan['partitions']} "
        f"partitions, RF {plan['replication_factor']}, min.insync {plan['min_insync_replicas']}, "
        f"{result['machine']['cores']} cores"
    )
    columns = ("point", "throughput", "speedup", "of limit", "per pipeline core", "CPU (cores)",
               "reading")  # fmt: skip
    for column in columns:
        out.add_column(column, overflow="fold")

    def cpu(point: dict[str, float]) -> str:
        return " ".join(f"{k} {v:.2f}" for k, v in point.items() if k not in NOT_GROUPS and v)

    for name, label, unit in (
        ("bare_producer", "bare producer, one process (limit)", "readings"),
        ("bare_db", "bare inserts (limit)", "docs"),
    ):
        value = _rate(found[f"{name}_{unit}_per_s"])
        out.add_row(
            label, value, "", "", "", cpu(found[f"{name}_cpu"]), found.get(f"{name}_reading", "")
        )
    lines = result["curve"]
    for point, line in zip(result["sink"], lines["sink"], strict=True):
        out.add_row(
            f"sink x{point['replicas']}", _rate(point["docs_per_s"]), _x(line["speedup"]),
            _x(line["vs_bare_db"]), _rate(line["per_pipeline_core"]), cpu(point["cpu"]),
            point.get("reading", ""),
        )  # fmt: skip
    for point, line in zip(result["ingest"], lines["ingest"], strict=True):
        for kind, label in (("batch", f"batch {plan['batch_size']}"), ("single", "single")):
            phase = point[kind]
            limit = _x(line["batch_vs_bare_producer"]) if kind == "batch" else ""
            out.add_row(f"ingest {label}, {point['workers']} workers",
                        _rate(phase["readings_per_s"]), _x(line.get(f"{kind}_speedup")), limit,
                        _rate(line[f"{kind}_per_pipeline_core"]), cpu(phase["cpu"]),
                        phase.get("reading", ""))  # fmt: skip
    return out


def write(result: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """scale.json and scale.png in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    data, chart = folder / "scale.json", folder / "scale.png"
    data.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    _chart(result, chart)
    return data, chart


def _chart(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    found, cores = result["limits"], result["machine"]["cores"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    replicas = [p["replicas"] for p in result["sink"]]
    rates = [p["docs_per_s"] for p in result["sink"]]
    left.plot(replicas, rates, marker="o", color="#3b7dd8", label="sink (docs/s)")
    for x, y in zip(replicas, rates, strict=True):
        left.annotate(f"{y:,.0f}", (x, y), textcoords="offset points", xytext=(0, 6),
                      ha="center", fontsize=8)  # fmt: skip
    left.axhline(found["bare_db_docs_per_s"], color="black", linestyle="--",
                 label="bare database inserts")  # fmt: skip
    left.set_xticks(replicas)
    left.set_xlabel("sink replicas (one consumer group)")
    left.set_ylabel("documents stored per second")
    left.set_title(f"sink, {result['plan']['partitions']} partitions")
    left.set_ylim(0, max([found["bare_db_docs_per_s"], *(p["docs_per_s"] for p in result["sink"])])
                  * 1.25)  # fmt: skip
    left.legend(loc="lower right")
    workers = [p["workers"] for p in result["ingest"]]
    for kind, label, color in (
        ("batch", f"batches of {result['plan']['batch_size']}", "#3b7dd8"),
        ("single", "single readings", "#d8553b"),
    ):
        rates = [p[kind]["readings_per_s"] for p in result["ingest"]]
        right.plot(workers, rates, marker="o", color=color, label=label)
        for x, y in zip(workers, rates, strict=True):
            right.annotate(f"{y:,.0f}", (x, y), textcoords="offset points", xytext=(0, 6),
                           ha="center", fontsize=8)  # fmt: skip
    right.axhline(found["bare_producer_readings_per_s"], color="black", linestyle="--",
                  label="bare producer (one process, acks=all)")  # fmt: skip
    right.axvline(cores, color="grey", linestyle=":", label=f"{cores} cores")
    right.set_xticks(workers)
    right.set_xlabel("ingest workers")
    right.set_ylabel("readings accepted per second")
    right.set_title(f"ingest, {result['plan']['brokers']} brokers")
    right.set_yscale("log")
    shown = [found["bare_producer_readings_per_s"]] + [
        p[kind]["readings_per_s"] for p in result["ingest"] for kind in ("batch", "single")
    ]
    right.set_ylim(min(shown) * 0.7, max(shown) * 1.6)  # room for the labels
    right.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
