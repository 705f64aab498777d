"""The contract as it was at a git revision: what CI checks the working tree against."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from iotpipe.contract.catalog import Contract
from iotpipe.errors import ConfigError

__all__ = ["contract_at"]


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )


@contextmanager
def contract_at(ref: str, schemas: Path) -> Iterator[tuple[str, Contract | None]]:
    """Yield (commit id, the contract at ``ref``), or a None contract if it had no schemas."""
    repo_top = _git(schemas, "rev-parse", "--show-toplevel")
    if repo_top.returncode != 0:
        raise ConfigError(f"{schemas} is not inside a git repository; cannot read {ref}")
    commit = _git(schemas, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if commit.returncode != 0:
        raise ConfigError(f"git revision {ref!r} not found (a shallow clone has no history)")
    sha = commit.stdout.strip()
    top = Path(repo_top.stdout.strip()).resolve()
    folder = schemas.resolve().relative_to(top).as_posix()
    listed = _git(top, "ls-tree", "--name-only", sha, f"{folder}/")
    files = [f for f in listed.stdout.split() if f.endswith(".avsc")]
    if not files:
        yield sha, None
        return
    with tempfile.TemporaryDirectory(prefix="iotpipe-baseline-") as tmp:
        for path in files:
            shown = _git(top, "show", f"{sha}:{path}")
            if shown.returncode != 0:
                raise ConfigError(f"cannot read {path} at {sha[:12]}: {shown.stderr.strip()}")
            (Path(tmp) / Path(path).name).write_text(shown.stdout)
        yield sha, Contract.load(Path(tmp))
