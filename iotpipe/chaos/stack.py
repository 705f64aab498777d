"""The chaos run's private stack: its own state folder and ports.

Scenarios stop and restart Kafka, the registry and the database, so they never touch the
developer's stack (other tests may be using it): a state folder of their own with ports
picked free at start, one Kafka node or a cluster of three. Downloads come from the
shared cache, so it starts in seconds.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from iotpipe.stack.manager import Stack
from iotpipe.stack.private import private_stack as fresh_stack
from iotpipe.stack.settings import default_state_dir

__all__ = ["default_chaos_state_dir", "private_stack"]


def default_chaos_state_dir() -> Path:
    return default_state_dir().parent / "chaos-stack"


def private_stack(state_dir: Path, *, brokers: int = 1, console: Console | None = None) -> Stack:
    """The chaos run's stack of ``brokers`` Kafka nodes in ``state_dir``, emptied first."""
    return fresh_stack(state_dir, brokers=brokers, console=console, user="chaos")
