"""What the schema cannot say about the compose files: health, order, secrets, wiring."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from iotpipe.cluster import load_profile, property_name
from iotpipe.paths import REPO_DIR
from tests.integration.deploy.compose import (
    COMPOSE_DIR,
    COMPOSE_FILES,
    env_example,
    example_env,
    interpolate,
    known_iotpipe_variables,
    load,
    mask,
    references,
    strings,
)

Compose = tuple[str, dict[str, Any]]
PROJECT_SERVICES = ("init", "ingest", "sink")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN")


def services(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = document["services"]
    assert isinstance(found, dict)
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """What the container gets: its env_file(s) (relative to compose/), then environment."""
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment is written as a mapping"
    files = service.get("env_file", [])
    merged: dict[str, str] = {}
    for name in [files] if isinstance(files, str) else files:
        merged |= env_example(COMPOSE_DIR / name)
    return merged | {str(k): str(v) for k, v in env.items()}


def one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def test_long_running_services_have_a_healthcheck_and_one_shots_are_marked(
    compose: Compose,
) -> None:
    name, document = compose
    completed_deps = {
        dep
        for service in services(document).values()
        for dep, how in (service.get("depends_on") or {}).items()
        if how.get("condition") == "service_completed_successfully"
    }
    for service_name, service in services(document).items():
        check = service.get("healthcheck") or {}
        if one_shot(service):
            assert service_name in completed_deps, f"{name}: {service_name} is waited for by none"
            continue
        assert service.get("restart") == "unless-stopped", f"{name}: {service_name} restart"
        assert check.get("test") and not check.get("disable"), f"{name}: {service_name}"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, f"{name}: {service_name}"
    for dep in completed_deps:
        assert one_shot(services(document)[dep]), f"{name}: {dep} must be restart 'no'"


def test_every_dependency_names_a_condition_its_target_can_meet(compose: Compose) -> None:
    name, document = compose
    all_services = services(document)
    for service_name, service in all_services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: {service_name} depends_on without conditions"
        for dep, how in depends.items():
            assert dep in all_services, f"{name}: {service_name} -> {dep}"
            condition = how.get("condition")
            assert condition in {"service_healthy", "service_completed_successfully"}, (
                f"{name}: {service_name} -> {dep}: {condition}"
            )
            if condition == "service_healthy":
                assert all_services[dep].get("healthcheck", {}).get("test"), f"{name}: {dep}"


def test_pipeline_services_run_the_project_image(compose: Compose) -> None:
    name, document = compose
    images = set()
    for service_name in PROJECT_SERVICES:
        service = services(document)[service_name]
        build = service["build"]
        assert (COMPOSE_DIR / build["context"]).resolve() == REPO_DIR, f"{name}: {service_name}"
        assert build["dockerfile"] == "Dockerfile"
        images.add(service["image"])
    assert (REPO_DIR / "Dockerfile").is_file()
    assert len(images) == 1, f"{name}: one image for init, ingest and sink, not {images}"


def test_no_secret_is_written_in_a_compose_file(compose: Compose) -> None:
    name, document = compose
    example = env_example()
    secrets = {k for k, v in example.items() if not v}
    assert {k for k in example if SECRET_NAME.search(k)} <= secrets, "passwords have no default"
    for path, text in strings(document):
        for var, operator in references(text):
            if var in secrets:
                assert operator == ":?", f"{name}{path}: ${{{var}}} must be required (:?)"
    for service_name, service in services(document).items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                refs = references(value)
                assert len(refs) == 1 and refs[0][0] in secrets, f"{name}: {service_name}.{key}"
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", value), f"{name}: {key} = literal?"
            uri = urlsplit(mask(value))
            if uri.username is not None:  # a URI with credentials in it
                password = uri.password or ""
                assert re.fullmatch(r"<[A-Z_]+>", password) and password[1:-1] in secrets, (
                    f"{name}: {service_name}.{key} holds a literal password"
                )
    for path, text in strings(document):
        for flag_value in re.findall(r"--password[= ]+(\S+)", text):
            assert flag_value.startswith(('"$$', "$$")), f"{name}{path}: literal --password"


def test_every_variable_is_documented_in_env_example_and_defaults_agree() -> None:
    example = env_example()
    used: dict[str, set[str]] = {}
    for file in COMPOSE_FILES.values():
        for _, text in strings(load(file)):
            for var, _ in references(text):
                used.setdefault(var, set()).add(file.name)
            for var, default in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}", text):
                assert example.get(var) == default, f"{file.name}: default of {var} is {default!r}"
    assert set(used) - set(example) == set(), "used but not in .env.example"
    assert set(example) - set(used) == set(), "in .env.example but used by no compose file"


def test_iotpipe_variables_are_ones_the_code_reads(compose: Compose) -> None:
    """Every IOTPIPE_* name set in a container is a settings field or a CLI option's envvar."""
    known = known_iotpipe_variables()
    name, document = compose
    for service_name, service in services(document).items():
        for key in environment(service):
            if key.startswith("IOTPIPE_"):
                assert key in known, f"{name}: {service_name} sets {key}, which nothing reads"


def test_grafana_mounts_provisioning_and_gets_the_mongodb_plugin(compose: Compose) -> None:
    name, document = compose
    grafana = services(document)["grafana"]
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    provisioning = REPO_DIR / "grafana" / "provisioning"
    for kind in ("datasources", "dashboards", "alerting"):
        assert list((provisioning / kind).glob("*.yaml")), f"grafana/provisioning/{kind}"
    # Dashboards are mounted where the dashboard provider looks for them.
    paths = {
        provider["options"]["path"]
        for file in (provisioning / "dashboards").glob("*.yaml")
        for provider in yaml.safe_load(file.read_text())["providers"]
    }
    assert {f"../grafana/dashboards:{path}:ro" for path in paths} <= set(grafana["volumes"])
    env = environment(interpolate(grafana, example_env()))
    plugin, version, url = env["GF_PLUGINS_PREINSTALL_SYNC"].split("@", 2)
    assert plugin == "haohanyang-mongodb-datasource"
    assert url.endswith(f"/v{version}/haohanyang-mongodb-datasource-{version}.zip")
    assert env["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"] == plugin
    assert env["GRAFANA_MONGODB_USER"] == "iotpipe_grafana"
    assert _endpoint_hosts(env["GRAFANA_MONGODB_HOSTS"]) <= set(services(document)), name
    assert environment(grafana)["GRAFANA_MONGODB_PASSWORD"].startswith("${MONGO_GRAFANA_PASSWORD:?")
    # Every $NAME the provisioning files expand is set in the Grafana container.
    for file in provisioning.rglob("*.yaml"):
        for var in {
            v for _, text in strings(yaml.safe_load(file.read_text())) for v, _ in references(text)
        }:
            assert var in env, f"{name}: {file.relative_to(REPO_DIR)} reads ${var}, unset"


def test_prometheus_scrapes_every_ingest_and_sink_replica(compose: Compose) -> None:
    _, document = compose
    prometheus = services(document)["prometheus"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    config = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: {
            (n, sd["port"]) for sd in job.get("dns_sd_configs", []) for n in sd["names"]
        }
        for job in config["scrape_configs"]
    }
    ingest = environment(services(document)["ingest"])
    sink = environment(services(document)["sink"])
    assert targets["ingest"] == {("ingest", int(ingest["IOTPIPE_INGEST_PORT"]))}
    assert targets["sink"] == {("sink", int(sink["IOTPIPE_SINK_HEALTH_PORT"]))}


def _init_users() -> dict[str, tuple[str, str]]:
    script = (COMPOSE_DIR / "mongo" / "init-users.js").read_text()
    rows = re.findall(
        r'\{\s*user:\s*"(\w+)",\s*role:\s*"(\w+)",\s*passwordEnv:\s*"(\w+)"\s*\}', script
    )
    return {user: (role, env) for user, role, env in rows}


def test_mongo_init_creates_the_two_least_privilege_users(compose: Compose) -> None:
    users = _init_users()
    assert {u: role for u, (role, _) in users.items()} == {
        "iotpipe_sink": "readWrite",
        "iotpipe_grafana": "read",
    }
    # The same users and roles as `iotpipe db setup`.
    setup = (REPO_DIR / "sink" / "users.py").read_text()
    assert set(re.findall(r'_ensure\(\w+, "(\w+)", \w+, "(\w+)"', setup)) == {
        (u, role) for u, (role, _) in users.items()
    }
    name, document = compose
    runner = "mongodb" if name == "single" else "mongo-rs-init"
    env = environment(services(document)[runner])
    wanted = {  # variable names, not passwords
        "IOTPIPE_DB_SINK_PASSWORD": "MONGO_SINK_PASSWORD",
        "IOTPIPE_DB_GRAFANA_PASSWORD": "MONGO_GRAFANA_PASSWORD",
    }
    for _, env_name in users.values():
        assert references(env[env_name])[0] == (wanted[env_name], ":?"), f"{name}: {env_name}"
    assert env["IOTPIPE_SINK_DATABASE"] == "iotpipe"
    uri = urlsplit(mask(environment(services(document)["sink"])["IOTPIPE_SINK_MONGODB_URI"]))
    assert uri.username == "iotpipe_sink"
    assert uri.password == "<MONGO_SINK_PASSWORD>"  # noqa: S105 - a masked reference
    assert uri.path == "/iotpipe" and "authSource=iotpipe" in uri.query
    mounts = " ".join(services(document)[runner]["volumes"])
    if name == "single":
        assert "./mongo/init-users.js:/docker-entrypoint-initdb.d/" in mounts
    else:
        assert "./mongo:/iotpipe-mongo:ro" in mounts
        assert (
            'load("/iotpipe-mongo/init-users.js")'
            in (COMPOSE_DIR / "mongo" / "replica-set.js").read_text()
        )


def test_ingest_and_sink_scale_out_unchanged(compose: Compose) -> None:
    name, document = compose
    for service_name in ("ingest", "sink"):
        service = services(document)[service_name]
        assert "container_name" not in service, f"{name}: {service_name}"
        for port in service.get("ports", []):
            host = str(port).rsplit(":", 1)[0]
            assert "${" in host or "-" in host or ":" not in str(port), f"{name}: {port}"
            assert re.search(r"\d+-\d+", interpolate(host, example_env())), f"{name}: {port}"
    assert environment(services(document)["sink"])["IOTPIPE_SINK_GROUP_ID"] == "iotpipe-sink"


def test_both_files_configure_the_pipeline_with_the_same_variables() -> None:
    single, scale = (services(load(COMPOSE_FILES[n])) for n in ("single", "scale"))
    for service_name in PROJECT_SERVICES:
        # The cluster profile (env_file) is the scale file's own; the rest is shared.
        assert set(single[service_name].get("environment", {})) == set(
            scale[service_name].get("environment", {})
        )


def _endpoint_hosts(value: str) -> set[str]:
    value = mask(value).split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    return {part.rsplit(":", 1)[0] for part in value.split(",")}


def test_endpoints_point_at_services_of_the_same_file(compose: Compose) -> None:
    name, document = compose
    all_services = services(document)
    for service_name in PROJECT_SERVICES:
        for key, value in environment(all_services[service_name]).items():
            if key.endswith(("_BOOTSTRAP_SERVERS", "_REGISTRY_URL", "_MONGODB_URI")):
                assert _endpoint_hosts(value) <= set(all_services), f"{name}: {key}={value}"


def _kafka_nodes(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        n: environment(s)
        for n, s in services(document).items()
        if str(s.get("image", "")).startswith("apache/kafka:")
    }


def test_kafka_quorum_names_every_node_once(compose: Compose) -> None:
    name, document = compose
    nodes = _kafka_nodes(document)
    for env in nodes.values():
        voters = dict(v.split("@") for v in env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
        assert {h.rsplit(":", 1)[0] for h in voters.values()} == set(nodes), name
        assert voters[str(env["KAFKA_NODE_ID"])].startswith(
            next(n for n, e in nodes.items() if e["KAFKA_NODE_ID"] == env["KAFKA_NODE_ID"])
        )
        rf = int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"])
        assert rf == len(nodes) and int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == max(1, rf - 1)


@pytest.fixture
def scale() -> dict[str, dict[str, Any]]:
    return services(interpolate(load(COMPOSE_FILES["scale"]), example_env()))


def test_scale_out_is_three_brokers_three_members_and_replicated_services(
    scale: dict[str, dict[str, Any]],
) -> None:
    assert len(_kafka_nodes({"services": scale})) == 3
    # Topics as the local 3-broker stack makes them: one file, kafka-cluster.env.
    assert "iotpipe topics ensure --retention-hours" in " ".join(scale["init"]["command"])
    partitions, factor, insync = load_profile().topic_numbers(3)
    assert (partitions, factor, insync) == (6, 3, 2)
    assert {
        k: v for k, v in environment(scale["init"]).items() if k.startswith("IOTPIPE_TOPICS_")
    } == {
        "IOTPIPE_TOPICS_PARTITIONS": str(partitions),
        "IOTPIPE_TOPICS_REPLICATION_FACTOR": str(factor),
        "IOTPIPE_TOPICS_MIN_INSYNC_REPLICAS": str(insync),
    }
    for env in _kafka_nodes({"services": scale}).values():
        rendered = {
            property_name(k): v
            for k, v in env.items()
            if k in load_profile().variables and k.startswith("KAFKA_")
        }
        assert rendered == load_profile().broker_properties(3)
    members = [n for n, s in scale.items() if "--replSet" in s.get("command", [])]
    assert members == ["mongo-1", "mongo-2", "mongo-3"]
    for member in members:
        assert scale[member]["command"][-3:] == ["--keyFile", "/keyfile/keyfile", "--bind_ip_all"]
        assert "mongo-keyfile:/keyfile:ro" in scale[member]["volumes"]
    env = environment(scale["mongo-rs-init"])
    assert env["MONGO_REPLICA_MEMBERS"] == ",".join(f"{m}:27017" for m in members)
    uri = urlsplit(environment(scale["sink"])["IOTPIPE_SINK_MONGODB_URI"])
    assert "replicaSet=rs0" in uri.query
    for service_name in ("ingest", "sink"):
        assert int(scale[service_name]["deploy"]["replicas"]) > 1
