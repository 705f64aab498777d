"""Consoles for the command line: rich's own on a terminal; whole lines in a pipe or a log.

rich sizes a console that is not a terminal at 80 columns (or ``$COLUMNS``) and breaks
every longer line there, so ``iotpipe ... | tee log`` and CI logs got status lines in
fragments. Off a terminal the consoles made here are ``PIPE_WIDTH`` columns wide unless
``COLUMNS`` says otherwise. Colour is rich's rule: none off a terminal, none where
``NO_COLOR`` is set (https://no-color.org), forced by ``FORCE_COLOR``.
"""

from __future__ import annotations

import os

from rich.console import Console

__all__ = ["PIPE_WIDTH", "make_console"]

PIPE_WIDTH = 200


def make_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr): a terminal's width there, ``PIPE_WIDTH`` in a pipe."""
    console = Console(stderr=stderr)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = PIPE_WIDTH
    return console
