from __future__ import annotations

import stat
from pathlib import Path

import pytest

from iotpipe.errors import PrerequisiteMissing
from iotpipe.stack.prereqs import find_go, find_java, find_maven, java_major


def fake_jdk(root: Path, name: str, version_line: str) -> Path:
    """A JDK folder whose bin/java prints ``version_line`` as real ones do (on stderr)."""
    java = root / name / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return java


@pytest.mark.parametrize(
    ("line", "major"),
    [
        ('openjdk version "25.0.3" 2026-04-21 LTS', 25),
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "21" 2023-09-19', 21),
    ],
)
def test_java_major_reads_every_version_style(tmp_path: Path, line: str, major: int) -> None:
    assert java_major(fake_jdk(tmp_path, "jdk", line)) == major


def test_java_major_of_a_missing_binary_is_none(tmp_path: Path) -> None:
    assert java_major(tmp_path / "nope" / "java") is None


def test_find_java_skips_old_jdks_and_takes_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    fake_jdk(tmp_path, "java-17", 'openjdk version "17.0.15"')
    new = fake_jdk(tmp_path, "temurin-25", 'openjdk version "25.0.3"')
    found = find_java(jvm_dirs=[tmp_path], path="")
    assert found.executable == new.resolve()
    assert found.major == 25
    assert found.home == new.parent.parent.resolve()


def test_explicit_java_home_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    fake_jdk(tmp_path / "jvm", "temurin-25", 'openjdk version "25.0.3"')
    chosen = fake_jdk(tmp_path, "mine", 'openjdk version "21.0.2"')
    found = find_java(java_home=chosen.parent.parent, jvm_dirs=[tmp_path / "jvm"], path="")
    assert found.major == 21


def test_only_old_java_gives_one_sentence_naming_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    fake_jdk(tmp_path, "java-17", 'openjdk version "17.0.15"')
    with pytest.raises(PrerequisiteMissing) as caught:
        find_java(jvm_dirs=[tmp_path], path="")
    message = str(caught.value)
    assert "Java 21 or newer" in message
    assert "found only Java 17" in message
    assert "IOTPIPE_JAVA_HOME" in message
    assert "\n" not in message
    assert message.count(". ") == 0  # one sentence


def test_no_java_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(PrerequisiteMissing, match=r"none was found: install a JDK 21\+"):
        find_java(jvm_dirs=[tmp_path], path="")


def test_missing_go_and_maven_name_the_tool(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing, match="install go"):
        find_go(path=str(tmp_path), extra=())
    with pytest.raises(PrerequisiteMissing, match="install mvn"):
        find_maven(path=str(tmp_path))
