"""Both compose files through compose's own loader (compose-go), as `docker compose
config` would load them: interpolation, schema, normalization and consistency checks
(undeclared volumes, unknown services in depends_on, port syntax, ...)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from iotpipe.cluster import load_profile
from iotpipe.paths import REPO_DIR
from tests.integration.deploy.compose import (
    COMPOSE_DIR,
    COMPOSE_FILES,
    COMPOSE_GO,
    COMPOSE_GO_VERSION,
    COMPOSECHECK_SRC,
    ROOT_COMPOSE,
    composecheck_binary,
    env_example,
    example_env,
    load,
)

# The first run on a machine builds composecheck from the Go module proxy.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def composecheck() -> Path:
    """Built once per machine from composecheck/ (Go module proxy), then cached."""
    return composecheck_binary()


def load_project(
    binary: Path, compose_file: Path, env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return subprocess.run(
        [binary, compose_file, env_file], capture_output=True, text=True, timeout=60, check=False
    )


def test_composecheck_uses_the_compose_go_of_the_schema() -> None:
    assert f"require {COMPOSE_GO} {COMPOSE_GO_VERSION}" in (COMPOSECHECK_SRC / "go.mod").read_text()


@pytest.mark.parametrize("name", sorted(COMPOSE_FILES))
def test_compose_loads_the_file_as_written(name: str, composecheck: Path, tmp_path: Path) -> None:
    result = load_project(composecheck, COMPOSE_FILES[name], example_env(), tmp_path)
    assert result.returncode == 0, result.stderr
    project: dict[str, Any] = json.loads(result.stdout)
    services = project["services"]
    assert set(services) == set(load(COMPOSE_FILES[name])["services"])
    # What reaches the containers: $$ became $, shell variables are left to the shell.
    assert '[[ "$status" == *' in services["registry"]["healthcheck"]["test"][3]
    mongo = services["mongodb" if name == "single" else "mongo-1"]
    assert '--host "${HOSTNAME}"' in mongo["healthcheck"]["test"][1]
    assert services["ingest"]["ports"][0]["published"] == "8000-8009"
    assert services["ingest"]["build"]["context"] == str(COMPOSE_FILES[name].parent.parent)
    init = services["init"]["command"][0]
    if name == "single":
        assert init.startswith("iotpipe schemas push && iotpipe topics ensure --partitions ")
    if name == "scale":
        assert (
            services["ingest"]["deploy"]["replicas"] == services["sink"]["deploy"]["replicas"] == 3
        )
        # compose's loader reads kafka-cluster.env into the brokers' and init's environment:
        # the same file `iotpipe stack up --brokers 3` renders (one source for both).
        profile = load_profile().variables
        for service in ("kafka-1", "kafka-2", "kafka-3"):
            given = services[service]["environment"]
            assert {k: given.get(k) for k in profile if k.startswith("KAFKA_")} == {
                k: v for k, v in profile.items() if k.startswith("KAFKA_")
            }
        given = services["init"]["environment"]
        assert {k: given.get(k) for k in profile if k.startswith("IOTPIPE_TOPICS_")} == {
            k: v for k, v in profile.items() if k.startswith("IOTPIPE_TOPICS_")
        }


@pytest.mark.parametrize("name", sorted(COMPOSE_FILES))
def test_compose_refuses_the_file_without_a_password(
    name: str, composecheck: Path, tmp_path: Path
) -> None:
    for secret in (k for k, v in env_example().items() if not v):
        env = {k: v for k, v in example_env().items() if k != secret}
        result = load_project(composecheck, COMPOSE_FILES[name], env, tmp_path)
        assert result.returncode != 0, f"{name} starts without {secret}"
        assert f"required variable {secret} is missing a value" in result.stderr


def _project(binary: Path, compose_file: Path, env: dict[str, str], tmp_path: Path) -> Any:
    result = load_project(binary, compose_file, env, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _bind_sources(service: dict[str, Any]) -> set[str]:
    return {v["source"] for v in service.get("volumes", []) if v["type"] == "bind"}


def test_docker_compose_up_from_the_root_is_the_deployment(
    composecheck: Path, tmp_path: Path
) -> None:
    """`docker compose up` in the repository root finds compose.yaml, which includes
    compose/docker-compose.yml: the same project, with every relative path resolved from
    compose/ (the included file's folder), not from the root."""
    root = _project(composecheck, ROOT_COMPOSE, example_env(), tmp_path)
    single = _project(composecheck, COMPOSE_FILES["single"], example_env(), tmp_path)
    assert root["name"] == single["name"] == "iotpipe"  # the same containers and volumes
    for key in ("services", "volumes", "networks"):
        assert root[key] == single[key], key
    services = root["services"]
    for name in ("init", "ingest", "sink"):
        assert services[name]["build"]["context"] == str(REPO_DIR), name  # `..` of compose/
    assert _bind_sources(services["mongodb"]) == {str(COMPOSE_DIR / "mongo/init-users.js")}
    assert _bind_sources(services["prometheus"]) == {str(COMPOSE_DIR / "prometheus/prometheus.yml")}
    assert _bind_sources(services["proxy"]) == {
        str(COMPOSE_DIR / "proxy/Caddyfile"),
        str(COMPOSE_DIR / "proxy/certs"),
    }
    assert _bind_sources(services["grafana"]) == {
        str(REPO_DIR / "grafana/provisioning"),
        str(REPO_DIR / "grafana/dashboards"),
    }
    # Exactly one of the names `docker compose` looks for, or it warns and picks one.
    defaults = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
    assert [n for n in defaults if (REPO_DIR / n).exists()] == ["compose.yaml"]


def test_the_root_file_reads_the_passwords_from_compose_env(
    composecheck: Path, tmp_path: Path
) -> None:
    """The docs' `cp compose/.env.example compose/.env`, then `docker compose up` from the
    root: the included file is interpolated with compose/.env, its own folder's file."""
    checkout = tmp_path / "checkout"
    (checkout / "compose").mkdir(parents=True)
    shutil.copy(ROOT_COMPOSE, checkout / "compose.yaml")
    shutil.copy(COMPOSE_FILES["single"], checkout / "compose" / "docker-compose.yml")
    nothing: dict[str, str] = {}  # no --env-file values and no .env in the root
    refused = load_project(composecheck, checkout / "compose.yaml", nothing, tmp_path)
    assert refused.returncode != 0
    assert "required variable" in refused.stderr
    env = example_env()
    (checkout / "compose" / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    project = _project(composecheck, checkout / "compose.yaml", nothing, tmp_path)
    grafana = project["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == env["GRAFANA_ADMIN_PASSWORD"]


def test_the_proxy_gets_the_certificate_settings_as_the_docs_write_them(
    composecheck: Path, tmp_path: Path
) -> None:
    """docs/operations/compose.md's compose/.env lines for the device proxy: two paths in
    one unquoted value, and an e-mail address followed by a comment, reach the container
    as the Caddyfile's tls arguments (what tests/integration/deploy/test_proxy.py runs)."""
    files = "/certs/fullchain.pem /certs/privkey.pem"
    for line, expected in (
        (f"PROXY_TLS={files}", files),
        ("PROXY_TLS=ops@example.org            # the ACME account's e-mail", "ops@example.org"),
    ):
        env_file = tmp_path / "compose.env"
        env = {k: v for k, v in example_env().items() if k != "PROXY_TLS"}
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()) + line + "\n")
        for compose_file in COMPOSE_FILES.values():
            result = subprocess.run(
                [composecheck, compose_file, env_file], capture_output=True, text=True,
                timeout=60, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            proxy = json.loads(result.stdout)["services"]["proxy"]["environment"]
            assert proxy["PROXY_TLS"] == expected, compose_file.name
