"""Both compose files through compose's own loader (compose-go), as `docker compose
config` would load them: interpolation, schema, normalization and consistency checks
(undeclared volumes, unknown services in depends_on, port syntax, ...)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from iotpipe.cluster import load_profile
from tests.integration.deploy.compose import (
    COMPOSE_FILES,
    COMPOSE_GO,
    COMPOSE_GO_VERSION,
    COMPOSECHECK_SRC,
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
