"""Source patches for a Go dependency, applied to a copy built in its place.

Go's module cache stays as downloaded (and checksummed), and Go refuses overlays of
files in it; so the build copies the module, patches the copy, and builds with a
go.mod of its own (``go build -modfile``) that replaces the module with the copy. Each
patch replaces one exact piece of text that must occur exactly once in its file, so a
module whose source moved on fails the build loudly instead of building without the fix.
"""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from iotpipe.errors import BuildFailed

__all__ = ["Patch", "load_patches", "patched_copy", "replacing_modfile"]


@dataclass(frozen=True)
class Patch:
    file: str  # path inside the module
    old: str
    new: str
    why: str


def load_patches(path: Path) -> list[Patch]:
    return [Patch(**entry) for entry in json.loads(path.read_text())]


def patched_copy(module_dir: Path, patches: list[Patch], dest: Path) -> Path:
    """A writable copy of ``module_dir`` at ``dest`` with ``patches`` applied."""
    shutil.copytree(module_dir, dest)
    for path in [dest, *dest.rglob("*")]:  # the module cache's files are read-only
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    for patch in patches:
        target = dest / patch.file
        text = target.read_text() if target.is_file() else ""
        found = text.count(patch.old)
        if found != 1:
            raise BuildFailed(
                f"patch for {patch.file} expects its text exactly once, found it {found} "
                f"times (did the module change?): {patch.old!r}"
            )
        target.write_text(text.replace(patch.old, patch.new))
    return dest


def replacing_modfile(main_dir: Path, module: str, copy: Path, out_dir: Path) -> Path:
    """``main_dir``'s go.mod and go.sum under ``out_dir``, with ``module`` replaced by
    ``copy``; returns the go.mod to pass to ``go build -modfile``."""
    modfile = out_dir / "go.mod"
    text = (main_dir / "go.mod").read_text()
    modfile.write_text(f"{text.rstrip()}\n\nreplace {module} => {copy.resolve()}\n")
    shutil.copyfile(main_dir / "go.sum", out_dir / "go.sum")
    return modfile
