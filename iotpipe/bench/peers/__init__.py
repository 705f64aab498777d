"""Peers: the same work done by another open pipeline, measured in the same run.

Each peer module exposes ``NAME`` and ``measure(ctx) -> dict[str, float]`` (figures keyed
like the pipeline's: ``single_rps``, ``batch_100_readings_per_s``,
``batch_1000_readings_per_s``, ``sink_docs_per_s``...)
and raises :class:`PeerUnavailable` with the reason when it cannot be built or run here;
the report prints that reason in the peer's row instead of a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iotpipe.errors import IotpipeError

__all__ = ["PeerContext", "PeerUnavailable"]


class PeerUnavailable(IotpipeError):
    """The peer could not be built or run on this machine (the message says why)."""


@dataclass(frozen=True)
class PeerContext:
    endpoints: dict[str, str]  # kafka, registry, mongodb (the local stack)
    workdir: Path  # scratch folder of this run (logs, configs)
    cache: Path  # ~/.cache/iotpipe/peers: builds and downloads kept between runs
    seconds: float  # per load phase
    connections: int  # wrk connections for single requests
    topic: str  # an empty topic of this run, the contract's schema already registered
    prefilled_topic: str  # holds ``prefill`` Avro readings (sink peers read it)
    prefill: int
    database: str  # an empty database of this run (sink peers write there)
    keys_file: Path  # ingest's key file of this run (peers that check keys read it)
    key: str  # the key ingest is loaded with, sent the same way to a peer
