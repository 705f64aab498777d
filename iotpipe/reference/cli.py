"""``reference/cli.md`` of the docs site: every command of ``iotpipe``, from the Typer app.

Written when the site is built (``mkdocs_hooks.py``), never committed: the CLI's help
changes often, and the page is always the code's.

Typer's own Markdown writer (``typer iotpipe.cli utils docs``) walks the app
(``iotpipe.cli:app``): each command and group with its help, usage, arguments and options
as ``--help`` shows them. It runs in a child process without ``IOTPIPE_*`` variables, and
defaults that are paths of this machine are written relative to the checkout or ``~``,
so the page is the same on every machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from iotpipe.errors import BuildFailed
from iotpipe.paths import REPO_DIR

__all__ = ["render_cli_page"]

INTRO = (
    "Every command of `iotpipe` with its arguments and options, as `iotpipe COMMAND --help` "
    "shows them. Written from the Typer app (`iotpipe.cli:app`) by Typer's own "
    "`typer iotpipe.cli utils docs` each time the site is built, so it is always the "
    "code's. A default written `<checkout>/...` is a folder of the repository's checkout."
)


def _typer_docs() -> str:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("IOTPIPE_", "TYPER_", "_TYPER"))
    }
    done = subprocess.run(
        [sys.executable, "-m", "typer", "iotpipe.cli", "utils", "docs", "--name", "iotpipe"],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "100", "NO_COLOR": "1"},
        cwd=REPO_DIR,
        check=False,
    )
    if done.returncode != 0:
        raise BuildFailed(f"typer utils docs failed:\n{done.stderr.strip()[-3000:]}")
    return done.stdout


def render_cli_page() -> str:
    text = _typer_docs()
    text = text.replace(f"{REPO_DIR}{os.sep}", "&lt;checkout&gt;/")
    text = text.replace(f"{Path.home()}{os.sep}", "~/")
    for local in {str(REPO_DIR), str(Path.home())}:
        if len(local) > 1 and local in text:
            raise BuildFailed(f"the CLI reference would name a path of this machine: {local}")
    # Typer's first heading is the bare program; the page's title says what the page is.
    first, _, rest = text.partition("\n")
    if first != "# `iotpipe`":
        raise BuildFailed(f"typer utils docs wrote an unexpected first line: {first!r}")
    return f"# CLI\n\n{INTRO}\n{rest.rstrip()}\n"
