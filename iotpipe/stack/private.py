"""A private stack: a state folder of its own on ports free right now.

The chaos suite and ``bench --scale`` stop, kill and wipe what they run, so they never
use the developer's stack (other tests may be using it). Downloads come from the shared
cache, so a private stack starts in seconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from iotpipe.errors import ConfigError
from iotpipe.processes import free_port, free_port_block
from iotpipe.stack.manager import Stack
from iotpipe.stack.settings import StackSettings, default_state_dir

__all__ = ["private_stack"]


def private_stack(
    state_dir: Path, *, brokers: int = 1, console: Console | None = None, user: str = "it"
) -> Stack:
    """A fresh stack of ``brokers`` Kafka nodes in ``state_dir`` (emptied first, with
    whatever an interrupted run left up in it stopped), on ports free right now: a block
    of two per node for Kafka (node i: the block's start + 2(i-1), its controller + 1),
    three more for the registry, its management port and the database."""
    if state_dir.expanduser().resolve() == default_state_dir().expanduser().resolve():
        raise ConfigError(f"{state_dir} is the local stack's folder; {user} needs its own")
    if state_dir.exists():
        Stack(StackSettings(state_dir=state_dir), console=console).down(wipe=True)
        shutil.rmtree(state_dir, ignore_errors=True)
    kafka = free_port_block(2 * brokers)
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
