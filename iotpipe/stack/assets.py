"""Where the local stack's build inputs are: ``compose/local`` in a checkout, or the copy
a wheel carries as ``iotpipe/stack/assets``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from iotpipe.errors import StackError

__all__ = ["assets_dir", "fingerprint"]


def assets_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "assets", here.parents[1] / "compose" / "local"):
        if (candidate / "kafka" / "pom.xml").is_file():
            return candidate
    raise StackError(f"the local stack's build files (compose/local) are missing near {here}")


def fingerprint(*files: Path) -> str:
    """A short content hash: a cache entry is rebuilt exactly when its inputs change."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]
