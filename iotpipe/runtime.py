"""Process tuning shared by the services."""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]


def tune_gc(gen0_threshold: int, *, freeze: bool) -> None:
    """Python's garbage collector for a long-running service, called once it is built:
    its youngest generation collected after ``gen0_threshold`` net container allocations
    (0 keeps Python's 700), and, with ``freeze``, what exists by then moved out of the
    collector's reach (``gc.freeze``), so full collections do not walk it again."""
    if gen0_threshold:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(gen0_threshold, older, oldest)
    if freeze:
        gc.collect()  # what start-up left as garbage is freed, not frozen
        gc.freeze()
