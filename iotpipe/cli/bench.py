"""``iotpipe bench``: the pipeline against its limits on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iotpipe.paths import REPO_DIR
from iotpipe.terminal import make_console

__all__ = ["bench"]


def bench(  # noqa: PLR0917 - typer options
    seconds: Annotated[float, typer.Option(help="Length of each load phase.")] = 10.0,
    prefill: Annotated[
        int, typer.Option(help="Readings for the producer, database and sink phases.")
    ] = 60_000,
    e2e_seconds: Annotated[float, typer.Option(help="Length of the end-to-end phase.")] = 20.0,
    output: Annotated[Path, typer.Option(help="Folder for latest.json and latest.png.")] = (
        REPO_DIR / "results" / "bench"
    ),
    peers: Annotated[
        bool,
        typer.Option(
            help="Also measure the peers (Benthos, Kafka Connect + MongoDB sink connector); "
            "the first run builds them (minutes)."
        ),
    ] = True,
    scale: Annotated[
        bool,
        typer.Option(
            "--scale",
            help="Instead: the scaling curve on a private 3-broker stack (sink for 1-3 "
            "replicas, ingest for 1, 2 and one worker per core); writes scale.json and "
            "scale.png. Uses --seconds, --prefill and --output.",
        ),
    ] = False,
    stack_dir: Annotated[
        Path | None,
        typer.Option(
            help="State folder of --scale's private stack (emptied first, deleted after) "
            "(default: ~/.local/state/iotpipe/bench-scale-stack)."
        ),
    ] = None,
    retention: Annotated[
        bool,
        typer.Option(
            "--retention",
            help="Instead: one retention run on the local FerretDB at --stored readings, "
            "--expired of them expired, the old delete by time against the sink's walk; "
            "writes retention.json. Uses --output.",
        ),
    ] = False,
    sink_only: Annotated[
        bool,
        typer.Option(
            "--sink-only",
            help="Instead: the sink stage only, like with like: our sink as deployed, our "
            "sink doing the Kafka Connect peer's work (readings only) and the peer (same "
            "documents), --rounds times in turn on one topic of --prefill readings; prints "
            "what still differs, writes sink.json. Uses --output.",
        ),
    ] = False,
    rounds: Annotated[int, typer.Option(help="--sink-only: rounds (medians).")] = 3,
    stored: Annotated[int, typer.Option(help="--retention: readings stored.")] = 1_000_000,
    expired: Annotated[int, typer.Option(help="--retention: of which expired.")] = 10_000,
) -> None:
    """Measure ingest (single, batch, WebSocket), the sink and end to end against the bare
    producer, HTTP server and database and against the peers, in one run; print the table
    with the targets' verdicts, write JSON and PNG. With --scale: the scaling curve."""
    if scale:
        _scale(seconds=seconds, prefill=prefill, output=output, stack_dir=stack_dir)
        return
    if retention:
        _retention(stored=stored, expired=expired, output=output)
        return
    if sink_only:
        _sink_only(prefill=prefill, rounds=rounds, output=output)
        return
    from iotpipe.bench import report  # noqa: PLC0415 - loads the benchmark only here
    from iotpipe.bench.run import PEERS, BenchPlan, run_bench  # noqa: PLC0415

    plan = BenchPlan(
        seconds=seconds, prefill=prefill, e2e_seconds=e2e_seconds, peers=PEERS if peers else ()
    )
    result = report.summarize(run_bench(plan))
    make_console().print(report.table(result))
    data, chart = report.write(result, output)
    make_console(stderr=True).print(f"wrote {data} and {chart}")


def _retention(*, stored: int, expired: int, output: Path) -> None:
    from iotpipe.bench.retention import (  # noqa: PLC0415 - loads the benchmark only here
        run_retention_bench,
        table,
        write,
    )
    from iotpipe.stack.manager import Stack  # noqa: PLC0415
    from iotpipe.stack.settings import StackSettings  # noqa: PLC0415

    if not 0 < expired < stored:
        raise typer.BadParameter("--expired must be between 0 and --stored")
    err = make_console(stderr=True)
    uri = Stack(StackSettings(), console=err).up(["mongodb"]).endpoints()["mongodb"]
    figures = run_retention_bench(uri, stored=stored, expired=expired, console=err)
    make_console().print(table(figures))
    err.print(f"wrote {write(figures, output)}")


def _scale(*, seconds: float, prefill: int, output: Path, stack_dir: Path | None) -> None:
    import os  # noqa: PLC0415

    from iotpipe.bench import scale_report  # noqa: PLC0415 - loads the benchmark only here
    from iotpipe.bench.scale import (  # noqa: PLC0415
        build_plan,
        default_scale_state_dir,
        run_scale,
    )
    from iotpipe.topics import cluster_topic_settings  # noqa: PLC0415

    brokers = 3
    plan = build_plan(
        seconds=seconds,
        prefill=prefill,
        cores=os.cpu_count() or 1,
        brokers=brokers,
        topics=cluster_topic_settings(brokers),
    )
    result = scale_report.summarize(run_scale(plan, stack_dir or default_scale_state_dir()))
    make_console().print(scale_report.table(result))
    data, chart = scale_report.write(result, output)
    make_console(stderr=True).print(f"wrote {data} and {chart}")


def _sink_only(*, prefill: int, rounds: int, output: Path) -> None:
    import json  # noqa: PLC0415
    import tempfile  # noqa: PLC0415
    from datetime import UTC, datetime  # noqa: PLC0415

    from iotpipe.bench import same_work  # noqa: PLC0415 - loads the benchmark only here

    workdir = Path(tempfile.mkdtemp(prefix="iotpipe-bench-sink-"))
    console = make_console(stderr=True)
    result = same_work.compare(prefill, rounds, workdir, console)
    result["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    make_console().print(same_work.table(result))
    output.mkdir(parents=True, exist_ok=True)
    path = output / "sink.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {path} (logs in {workdir})")
