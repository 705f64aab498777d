"""Where the project's own files are: in a checkout, or the copy a wheel carries."""

from __future__ import annotations

from pathlib import Path

from iotpipe.errors import ConfigError

__all__ = ["PACKAGE_DIR", "project_path"]

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def project_path(repo_relative: str, packaged: str, marker: str) -> Path:
    """``repo_relative`` in a checkout, else ``iotpipe/<packaged>`` from a wheel.

    ``marker`` is a file that must exist inside the folder for it to count.
    """
    for candidate in (REPO_DIR / repo_relative, PACKAGE_DIR / packaged):
        if (candidate / marker).exists():
            return candidate
    raise ConfigError(f"cannot find {repo_relative}/ (looked in {REPO_DIR} and {PACKAGE_DIR})")
