"""Where the local stack's build inputs are (``compose/local``), and cache keys for them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from iotpipe.paths import project_path

__all__ = ["assets_dir", "fingerprint"]


def assets_dir() -> Path:
    return project_path("compose/local", "stack/assets", "kafka/pom.xml")


def fingerprint(*files: Path) -> str:
    """A short content hash: a cache entry is rebuilt exactly when its inputs change."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]
