"""The soak's verdict: the issue's three conditions, each judged on its own so the report
says which one failed.

- memory flat: every pipeline process (ingest, sink) by :attr:`Growth.flat`; the stack's
  processes are shown for information only (they may be shared with other work, and a
  JVM's heap grows to its -Xmx by design);
- no error: zero on the client's side, on ingest's side and in the sink's dead letters;
- lag returns to zero after the load stops, within the drain timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from iotpipe.soak.growth import MAX_GROWTH, MAX_SLOPE_MB_PER_MIN, Growth

__all__ = ["Verdict", "judge"]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    failures: list[str]


def judge(
    growths: Mapping[str, Growth],
    *,
    load_errors: int,
    ingest_non_2xx: int,
    dead_letters: int,
    lag_to_zero_s: float | None,
) -> Verdict:
    failures = [
        f"{name} RSS not flat: {g.growth_mb:+.1f} MB ({g.growth_ratio:+.0%}), "
        f"{g.slope_mb_per_min:+.2f} MB/min (bounds < {MAX_GROWTH:.0%} and "
        f"< {MAX_SLOPE_MB_PER_MIN:g} MB/min)"
        for name, g in growths.items()
        if not g.flat
    ]
    if not growths:
        failures.append("no RSS samples after warm-up: run longer than the warm-up")
    if load_errors:
        failures.append(f"{load_errors} requests without a 2xx at the load generator (see below)")
    if ingest_non_2xx:
        failures.append(f"ingest answered {ingest_non_2xx} requests with non-2xx")
    if dead_letters:
        failures.append(f"the sink sent {dead_letters} records to the DLQ")
    if lag_to_zero_s is None:
        failures.append("consumer lag did not return to zero within the drain timeout")
    return Verdict(passed=not failures, failures=failures)
