"""``iotpipe stack`` as a user runs it, on paths that start no service."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from tests.support import free_port, run_cli
from tests.unit.test_prereqs import fake_jdk


def isolated_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOTPIPE_", "JAVA_HOME"))}
    env["IOTPIPE_STATE_DIR"] = str(tmp_path / "state")
    env["IOTPIPE_CACHE_DIR"] = str(tmp_path / "cache")
    env["COLUMNS"] = "200"
    return env


def test_missing_java_21_is_one_sentence_without_traceback(tmp_path: Path) -> None:
    old = fake_jdk(tmp_path, "java-17", 'openjdk version "17.0.15" 2025-04-15')
    env = isolated_env(tmp_path)
    env["PATH"] = str(old.parent)
    env["IOTPIPE_JVM_SEARCH_PATH"] = str(tmp_path / "no-jvms")
    port = free_port(2)
    result = run_cli("stack", "up", "kafka", "--kafka-port", str(port), env=env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    message = " ".join(line.strip() for line in lines)
    assert message.startswith("error: Java 21 or newer is needed")
    assert "found only Java 17" in message
    assert not (tmp_path / "cache" / "kafka").exists()  # nothing downloaded first


def test_taken_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run_cli(
            "stack", "up", "mongodb", "--mongodb-port", str(port), env=isolated_env(tmp_path)
        )
    assert result.returncode == 1
    assert f"port {port} for mongodb is taken" in " ".join(result.stderr.split())
    assert not (tmp_path / "state" / "run" / "mongodb.pid").exists()


def test_status_json_prints_the_endpoints_and_exits_3_when_down(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    env["IOTPIPE_KAFKA_PORT"] = "19192"
    env["IOTPIPE_REGISTRY_PORT"] = "18181"
    env["IOTPIPE_MONGODB_PORT"] = "27117"
    result = run_cli("stack", "status", "--json", env=env)
    assert result.returncode == 3
    assert json.loads(result.stdout) == {
        "kafka": "127.0.0.1:19192",
        "registry": "http://127.0.0.1:18181/apis/ccompat/v7",
        "mongodb": "mongodb://127.0.0.1:27117/",
    }


def test_down_on_a_stack_never_started_is_harmless(tmp_path: Path) -> None:
    result = run_cli("stack", "down", env=isolated_env(tmp_path))
    assert result.returncode == 0
    assert "nothing was running" in result.stderr


def test_unknown_service_name_is_refused_with_the_choices(tmp_path: Path) -> None:
    result = run_cli("stack", "up", "postgres", env=isolated_env(tmp_path))
    assert result.returncode == 2
    assert "kafka" in result.stderr
    assert "registry" in result.stderr


def test_an_unknown_node_or_colliding_ports_are_one_sentence(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    result = run_cli("stack", "up", "kafka-7", "--brokers", "3", env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "no service 'kafka-7'" in result.stderr
    assert "kafka-1, kafka-2, kafka-3" in result.stderr
    result = run_cli(
        "stack", "up", "--brokers", "3", "--kafka-port", "65534", "--state-dir",
        str(tmp_path / "other"), env=env,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "outside 1-65535" in " ".join(result.stderr.split())
