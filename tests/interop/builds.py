"""The interop tests' builds and commands (:mod:`iotpipe.interop`, cached under
``~/.cache/iotpipe/interop``) as a test meets them: a missing toolchain skips the test
that needs it, saying which; a build or command that fails fails it, with the tool's
output."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from iotpipe import interop
from iotpipe.errors import PrerequisiteMissing
from iotpipe.interop import CommandFailed, ToolMissing
from iotpipe.stack.prereqs import find_java

__all__ = ["as_test", "java_or_skip", "maven_build", "node_project", "run"]

T = TypeVar("T")


def as_test(call: Callable[[], T], *, skipped: str = "") -> T:
    """``call()``; :class:`ToolMissing` skips the test (``skipped`` before the reason),
    :class:`CommandFailed` fails it with the tool's output."""
    try:
        return call()
    except ToolMissing as exc:
        pytest.skip(f"{skipped}{exc}")
    except CommandFailed as exc:
        pytest.fail(str(exc), pytrace=False)


def run(
    cmd: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> str:
    """``cmd``'s stdout (UTF-8); with ``check``, a non-zero exit fails the test with the
    whole output."""
    return as_test(lambda: interop.run(cmd, cwd=cwd, env=env, timeout=timeout, check=check))


def java_or_skip() -> Path:
    try:
        return find_java().executable
    except PrerequisiteMissing as exc:
        pytest.skip(f"no Java here: {exc}")


def maven_build(project: Path) -> str:
    """The runtime classpath of the Maven project in ``project``, built once."""
    return as_test(lambda: interop.maven_classpath(project))


def node_project(project: Path) -> Path:
    """A folder with ``project``'s packages and scripts, installed once per lock."""
    return as_test(lambda: interop.node_project(project))
