"""Who holds which secret, read statically: ingest holds no database credentials (in its
settings, its imports, and the compose files), each compose service references only the
secrets it needs, and compose/mongo/init-users.js, run under node with a recording
``db``, grants readWrite (sink) and read (Grafana) on the pipeline's database only."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from ingest.settings import IngestSettings
from tests.integration.deploy.compose import (
    COMPOSE_DIR,
    COMPOSE_FILES,
    env_example,
    load,
    references,
    strings,
)

# The secrets (variables .env.example leaves empty) each service may reference; any
# service not listed may reference none.
NEEDS: dict[str, set[str]] = {
    "registry-db": {"REGISTRY_DB_PASSWORD"},
    "registry": {"REGISTRY_DB_PASSWORD"},
    # The database's first start creates root and the two users, so it sees all three.
    "mongodb": {"MONGO_ROOT_PASSWORD", "MONGO_SINK_PASSWORD", "MONGO_GRAFANA_PASSWORD"},
    "mongo-rs-init": {"MONGO_ROOT_PASSWORD", "MONGO_SINK_PASSWORD", "MONGO_GRAFANA_PASSWORD"},
    "mongo-1": {"MONGO_ROOT_PASSWORD"},
    "mongo-2": {"MONGO_ROOT_PASSWORD"},
    "mongo-3": {"MONGO_ROOT_PASSWORD"},
    "sink": {"MONGO_SINK_PASSWORD"},
    "grafana": {"GRAFANA_ADMIN_PASSWORD", "MONGO_GRAFANA_PASSWORD"},
}
DATABASE_WORDS = re.compile(r"MONGO|DATABASE|(^|_)DB(_|$)|PASSWORD|SECRET|TOKEN|CREDENTIAL")


def _secrets() -> set[str]:
    return {name for name, value in env_example().items() if not value}


@pytest.mark.parametrize("name", sorted(COMPOSE_FILES))
def test_each_service_references_only_the_secrets_it_needs(name: str) -> None:
    document = load(COMPOSE_FILES[name])
    secrets = _secrets()
    assert {"MONGO_ROOT_PASSWORD", "MONGO_SINK_PASSWORD", "MONGO_GRAFANA_PASSWORD"} <= secrets
    for service_name, service in document["services"].items():
        used = {var for _, text in strings(service) for var, _ in references(text)} & secrets
        assert used <= NEEDS.get(service_name, set()), f"{name}: {service_name} sees {used}"
    assert "secrets" not in document  # no compose secrets handed around outside this check


@pytest.mark.parametrize("name", sorted(COMPOSE_FILES))
def test_ingest_gets_no_database_setting_and_no_secret(name: str) -> None:
    ingest = load(COMPOSE_FILES[name])["services"]["ingest"]
    environment = {str(k): str(v) for k, v in (ingest.get("environment") or {}).items()}
    assert environment, "ingest is configured through its environment"
    assert [k for k in environment if DATABASE_WORDS.search(k)] == []
    assert [v for v in environment.values() if "mongodb" in v.lower()] == []
    assert "env_file" not in ingest
    assert {var for _, text in strings(ingest) for var, _ in references(text)} & _secrets() == set()


def test_ingest_settings_have_no_database_field() -> None:
    fields = set(IngestSettings.model_fields)
    assert fields, "settings fields are read"
    assert [f for f in fields if re.search(r"mongo|database|(^|_)db(_|$)|uri$", f)] == []


NODE_HARNESS = r"""
const fs = require("fs");
const calls = [];
const existing = new Set(JSON.parse(process.argv[2]));
function database(name) {
  return {
    getUser: (user) => {
      calls.push(["getUser", name, user]);
      return existing.has(user) ? { user } : null;
    },
    createUser: (spec) => calls.push(["createUser", name, spec]),
    updateUser: (user, spec) => calls.push(["updateUser", name, user, spec]),
    grantRolesToUser: (user, roles) => calls.push(["grantRolesToUser", name, user, roles]),
    runCommand: (command) => calls.push(["runCommand", name, command]),
    getSiblingDB: (other) => { calls.push(["getSiblingDB", other]); return database(other); },
  };
}
globalThis.db = database("test");
globalThis.print = () => {};
try {
  eval(fs.readFileSync(process.argv[1], "utf8"));
  console.log(JSON.stringify({ calls }));
} catch (error) {
  console.log(JSON.stringify({ calls, error: String(error) }));
}
"""


def _run_init_users(env: dict[str, str], existing: list[str]) -> dict[str, Any]:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed: init-users.js cannot be run here")
    script = COMPOSE_DIR / "mongo" / "init-users.js"
    done = subprocess.run(
        [node, "-e", NODE_HARNESS, str(script), json.dumps(existing)],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


PASSWORDS = {"IOTPIPE_DB_SINK_PASSWORD": "sink-pw", "IOTPIPE_DB_GRAFANA_PASSWORD": "grafana-pw"}
WANTED = {
    "iotpipe_sink": [{"role": "readWrite", "db": "iotpipe"}],
    "iotpipe_grafana": [{"role": "read", "db": "iotpipe"}],
}


@pytest.mark.parametrize("existing", [[], ["iotpipe_sink", "iotpipe_grafana"]])
def test_init_users_grants_read_write_and_read_on_the_pipeline_database_only(
    existing: list[str],
) -> None:
    result = _run_init_users({**PASSWORDS, "PATH": "/usr/bin:/bin"}, existing)
    assert "error" not in result, result
    calls = result["calls"]
    writes = [c for c in calls if c[0] not in ("getUser", "getSiblingDB")]
    granted: dict[str, Any] = {}
    for call in writes:
        assert call[0] in ("createUser", "updateUser"), call  # no grants, no raw commands
        assert call[1] == "iotpipe", call  # users live in (and authenticate against) iotpipe
        spec = call[2] if call[0] == "createUser" else {"user": call[2], **call[3]}
        granted[spec["user"]] = spec["roles"]
        assert (
            spec["pwd"]
            == {"iotpipe_sink": "sink-pw", "iotpipe_grafana": "grafana-pw"}[spec["user"]]
        )
    assert granted == WANTED
    kinds = {c[0] for c in writes}
    assert kinds == ({"updateUser"} if existing else {"createUser"})


def test_init_users_refuses_to_create_a_user_without_a_password() -> None:
    result = _run_init_users({"IOTPIPE_DB_SINK_PASSWORD": "x", "PATH": "/usr/bin:/bin"}, [])
    assert "IOTPIPE_DB_GRAFANA_PASSWORD is empty" in result.get("error", "")
    assert not any(
        c[0] == "createUser" and c[2]["user"] == "iotpipe_grafana" for c in result["calls"]
    )


def test_init_users_names_no_powerful_role() -> None:
    text = (COMPOSE_DIR / "mongo" / "init-users.js").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    powerful = r"root|dbOwner|userAdmin|dbAdmin|clusterAdmin|AnyDatabase|__system|backup|restore"
    assert re.findall(powerful, code) == []
