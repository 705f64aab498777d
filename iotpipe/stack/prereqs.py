"""Find the tools the local stack needs, or say in one sentence what to install.

Java 21+ runs Kafka and Apicurio Registry 3.x (the system default JDK is often 17, so
the JVM folder is searched for a newer one). Maven and Go are only needed the first time,
to download and build what the cache does not hold yet.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from iotpipe.errors import PrerequisiteMissing

__all__ = ["JVM_DIRS", "MIN_JAVA", "Java", "find_go", "find_java", "find_maven", "java_major"]

MIN_JAVA = 21
JVM_DIRS: tuple[Path, ...] = (Path("/usr/lib/jvm"), Path("/usr/lib64/jvm"), Path("/opt/java"))
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True)
class Java:
    executable: Path
    major: int

    @property
    def home(self) -> Path:
        return self.executable.parent.parent


def java_major(executable: Path) -> int | None:
    """The major version ``java -version`` reports, or None if it does not run."""
    try:
        out = subprocess.run(
            [str(executable), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(out.stderr + out.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major


def _candidates(
    java_home: Path | None, jvm_dirs: Iterable[Path], path: str | None
) -> Iterator[Path]:
    if java_home is not None:
        yield java_home / "bin" / "java"
    if env_home := os.environ.get("JAVA_HOME"):
        yield Path(env_home) / "bin" / "java"
    if on_path := shutil.which("java", path=path):
        yield Path(on_path)
    for folder in jvm_dirs:
        if folder.is_dir():
            yield from sorted(folder.glob("*/bin/java"), reverse=True)


def find_java(
    *,
    java_home: Path | None = None,
    jvm_dirs: Sequence[Path] = JVM_DIRS,
    path: str | None = None,
    minimum: int = MIN_JAVA,
) -> Java:
    """The first Java >= ``minimum``: IOTPIPE_JAVA_HOME, JAVA_HOME, PATH, then JVM folders."""
    seen: dict[Path, int | None] = {}
    for candidate in _candidates(java_home, jvm_dirs, path):
        real = candidate.resolve()
        if real in seen or not real.is_file():
            continue
        seen[real] = major = java_major(real)
        if major is not None and major >= minimum:
            return Java(real, major)
    found = sorted({m for m in seen.values() if m is not None})
    have = f" (found only Java {', '.join(map(str, found))})" if found else ""
    raise PrerequisiteMissing(
        f"Java {minimum} or newer is needed to run Kafka and the schema registry but none "
        f"was found{have}: install a JDK {minimum}+ (for example Temurin) or point "
        "IOTPIPE_JAVA_HOME at one."
    )


def _find_tool(name: str, extra: Sequence[Path], purpose: str, path: str | None) -> Path:
    found = shutil.which(name, path=path)
    if found:
        return Path(found)
    for candidate in extra:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise PrerequisiteMissing(f"{purpose}: install {name} and put it on PATH.")


def find_maven(path: str | None = None) -> Path:
    return _find_tool(
        "mvn", (), "Maven is needed once to download Kafka and the schema registry", path
    )


def find_go(
    path: str | None = None, extra: Sequence[Path] = (Path("/usr/local/go/bin/go"),)
) -> Path:
    return _find_tool("go", extra, "Go is needed once to build FerretDB", path)
