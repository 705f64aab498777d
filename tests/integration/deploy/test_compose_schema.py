"""Both compose files against the Compose Specification JSON Schema docker compose uses.

compose validates a file after interpolating it, so the files are interpolated here with
``.env.example`` (stand-ins for the passwords it leaves empty) before validation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.integration.deploy.compose import (
    ROOT_COMPOSE,
    MissingVariable,
    env_example,
    example_env,
    interpolate,
    load,
    references,
    strings,
    substitute,
)

Compose = tuple[str, dict[str, Any]]
# The first run on a machine fetches the schema with `go mod download`.
pytestmark = pytest.mark.timeout(300)


def schema_errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(schema)
    return sorted(
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(document)
    )


def test_compose_file_is_valid_against_the_compose_specification(
    compose: Compose, compose_schema: dict[str, Any]
) -> None:
    name, raw = compose
    assert schema_errors(compose_schema, interpolate(raw, example_env())) == [], name


def test_the_root_compose_file_is_valid_against_the_compose_specification(
    compose_schema: dict[str, Any],
) -> None:
    document = load(ROOT_COMPOSE)
    assert schema_errors(compose_schema, document) == []
    assert document["include"] == ["compose/docker-compose.yml"]
    mistaken = {**document, "include": [{"file": "compose/docker-compose.yml"}]}
    assert schema_errors(compose_schema, mistaken)  # `path`, not `file`: compose refuses it


def _set(path: tuple[str, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


BREAKAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "a misspelt service key": _set(("services", "sink", "depend_on"), ["init"]),
    "an unknown depends_on condition": _set(
        ("services", "ingest", "depends_on", "init", "condition"), "service_finished"
    ),
    "a healthcheck test that is a mapping": _set(
        ("services", "sink", "healthcheck", "test"), {"cmd": "true"}
    ),
    "a volume list that is a mapping": _set(("services", "grafana", "volumes"), {"a": "b"}),
    "an unknown top-level key": _set(("service",), {}),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_the_schema_check_catches_what_compose_refuses(
    breakage: str, compose: Compose, compose_schema: dict[str, Any]
) -> None:
    """The validation has teeth: each of these edits makes compose refuse the file."""
    _, raw = compose
    document = copy.deepcopy(interpolate(raw, example_env()))
    BREAKAGES[breakage](document)
    assert schema_errors(compose_schema, document), breakage


def test_compose_refuses_to_start_without_each_secret(compose: Compose) -> None:
    name, raw = compose
    secrets = [k for k, v in env_example().items() if not v]
    used = {var for _, text in strings(raw) for var, _ in references(text)}
    assert secrets
    for secret in sorted(used & set(secrets)):
        env = {**example_env(), secret: ""}
        with pytest.raises(MissingVariable) as refused:
            interpolate(raw, env)
        assert refused.value.name == secret, name
        assert "compose/.env" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A:+y}", {"A": "1"}, "y"),
        ("${A:+y}", {}, ""),
        ("$A/$${B}", {"A": "a"}, "a/${B}"),
        ("${A:-${B:-z}}", {}, "z"),
        ("pre-${A}-post", {"A": "v"}, "pre-v-post"),
    ],
)
def test_interpolation_follows_the_compose_syntax(
    text: str, env: dict[str, str], expected: str
) -> None:
    assert substitute(text, env) == expected


def test_interpolation_refuses_what_compose_refuses() -> None:
    with pytest.raises(MissingVariable, match="A: needed"):
        substitute("${A:?needed}", {"A": ""})
    with pytest.raises(ValueError, match="write \\$\\$"):
        substitute("cost: $5", {})
