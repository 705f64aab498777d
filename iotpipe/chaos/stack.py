"""The chaos run's private stack: its own state folder and ports.

Scenarios stop and restart Kafka, the registry and the database, so they never touch the
developer's stack (other tests may be using it): a state folder of their own with ports
picked free at start, one Kafka node or a cluster of three. Downloads come from the
shared cache, so it starts in seconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from iotpipe.errors import ConfigError
from iotpipe.processes import free_port, free_port_block
from iotpipe.stack.manager import Stack
from iotpipe.stack.settings import StackSettings, default_state_dir

__all__ = ["default_chaos_state_dir", "private_stack"]


def default_chaos_state_dir() -> Path:
    return default_state_dir().parent / "chaos-stack"


def private_stack(state_dir: Path, *, brokers: int = 1, console: Console | None = None) -> Stack:
    """A fresh stack of ``brokers`` Kafka nodes in ``state_dir`` (emptied first), on ports
    free right now: a block of two per node for Kafka, three more for the others."""
    if state_dir.expanduser().resolve() == default_state_dir().expanduser().resolve():
        raise ConfigError(f"{state_dir} is the local stack's folder; chaos needs its own")
    if state_dir.exists():
        previous = Stack(StackSettings(state_dir=state_dir), console=console)
        previous.down(wipe=True)  # ours: a run that was interrupted may have left it up
        shutil.rmtree(state_dir, ignore_errors=True)
    kafka = free_port_block(2 * brokers)  # node i: kafka + 2(i-1), its controller + 1
    ports: list[int] = []
    while len(ports) < 3:
        port = free_port()
        if port not in ports and not kafka <= port < kafka + 2 * brokers:
            ports.append(port)
    settings = StackSettings(
        state_dir=state_dir,
        brokers=brokers,
        kafka_port=kafka,
        kafka_controller_port=kafka + 1,
        registry_port=ports[0],
        registry_management_port=ports[1],
        mongodb_port=ports[2],
    )
    return Stack(settings, console=console)
