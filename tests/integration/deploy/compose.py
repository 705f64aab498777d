"""Reading the compose files as docker compose does, without a Docker engine.

- compose's own loader: ``composecheck/`` is a small Go program over compose-go (the
  module docker compose v2 is built on) that loads a file with an env file exactly as
  ``docker compose config`` would, built once from the Go module proxy and cached;
- YAML with anchors and merge keys (``<<``), as compose's YAML parser resolves them;
- variable interpolation with the Compose Specification's syntax (``${VAR}``,
  ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``,
  ``${VAR:+alt}``, ``$VAR``, ``$$`` for a literal dollar);
- the Compose Specification JSON Schema, read from the Go module that docker compose
  itself is built on (compose-go), fetched once with ``go mod download`` and cached.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
import yaml

from ingest.settings import IngestSettings
from iotpipe.cli import app
from iotpipe.endpoints import EndpointSettings
from iotpipe.paths import REPO_DIR
from iotpipe.stack.assets import fingerprint
from iotpipe.stack.install import go_env
from iotpipe.stack.prereqs import find_go
from iotpipe.stack.settings import StackSettings
from sink.settings import SinkSettings

COMPOSE_DIR = REPO_DIR / "compose"
COMPOSE_FILES = {
    "single": COMPOSE_DIR / "docker-compose.yml",
    "scale": COMPOSE_DIR / "docker-compose.scale.yml",
}
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
# `docker compose up` from the repository root: a file that includes docker-compose.yml.
ROOT_COMPOSE = REPO_DIR / "compose.yaml"

# The module docker compose v2 uses to load and validate compose files, and the schema
# file inside it. A version the Go module proxy serves; bump deliberately.
COMPOSE_GO = "github.com/compose-spec/compose-go/v2"
COMPOSE_GO_VERSION = "v2.16.2"
SCHEMA_IN_MODULE = "schema/compose-spec.json"

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(rf"\$\{{({NAME})(:?[-?+])?|\$({NAME})")


class MissingVariable(Exception):
    """A ``${VAR:?message}`` whose variable is unset (or empty): compose refuses to start."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path} is not a mapping"
    return document


def env_example(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """``NAME=value`` lines of an env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        assert sep and re.fullmatch(NAME, name), f"{path}:{number}: not NAME=value: {line!r}"
        assert name not in values, f"{path}:{number}: {name} given twice"
        values[name] = value
    return values


def strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string value in a parsed document, with a dotted path to it."""
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, Mapping):
        return [item for key, value in node.items() for item in strings(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [item for i, value in enumerate(node) for item in strings(value, f"{path}[{i}]")]
    return []


def references(text: str) -> list[tuple[str, str | None]]:
    """``(variable, operator)`` for each interpolation in ``text`` (``$$`` is no reference)."""
    found = []
    for match in _REFERENCE.finditer(text.replace("$$", "")):
        if match.group(1):
            found.append((match.group(1), match.group(2)))
        else:
            found.append((match.group(3), None))
    return found


def mask(text: str) -> str:
    """``text`` with each ``${NAME...}`` replaced by ``<NAME>``, to parse it (e.g. a URI)."""
    out, i = [], 0
    while (start := text.find("${", i)) != -1:
        end = _closing_brace(text, start)
        name = re.match(NAME, text[start + 2 :])
        out.append(text[i:start] + f"<{name.group() if name else '?'}>")
        i = end + 1
    return "".join(out) + text[i:]


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text.startswith("${", i):
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unclosed ${{ in {text!r}")


def _expand(body: str, env: Mapping[str, str]) -> str:
    match = re.fullmatch(rf"({NAME})(?:(:?[-?+])(.*))?", body, re.DOTALL)
    if match is None:
        raise ValueError(f"invalid interpolation ${{{body}}}")
    name, operator, argument = match.groups()
    value = env.get(name)
    if operator is None:
        return value or ""
    unset = value is None or (operator.startswith(":") and value == "")
    kind = operator[-1]
    if kind == "-":
        return substitute(argument, env) if unset else str(value)
    if kind == "?":
        if unset:
            raise MissingVariable(name, substitute(argument, env))
        return str(value)
    return "" if unset else substitute(argument, env)  # "+"


def substitute(text: str, env: Mapping[str, str]) -> str:
    """One string interpolated as compose does."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            out.append(text[i])
            i += 1
        elif text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i)
            out.append(_expand(text[i + 2 : end], env))
            i = end + 1
        elif match := re.match(NAME, text[i + 1 :]):
            out.append(env.get(match.group(), ""))
            i += 1 + len(match.group())
        else:
            raise ValueError(f"invalid interpolation in {text!r} at {i} (write $$ for a $)")
    return "".join(out)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """The document with every string value interpolated (keys stay as they are)."""
    if isinstance(node, str):
        return substitute(node, env)
    if isinstance(node, Mapping):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    return node


def example_env() -> dict[str, str]:
    """``.env.example`` with a stand-in for each secret it leaves empty."""
    return {k: v or f"example-{k.lower().replace('_', '-')}" for k, v in env_example().items()}


def _go_env(cache: Path) -> dict[str, str]:
    """Go's caches under iotpipe's, shared with the local stack's FerretDB build; the Go
    toolchain found, never another one downloaded."""
    return {
        **go_env(cache),
        "GOPATH": str(cache / "go" / "path"),
        "GOTOOLCHAIN": "local",
        "GO111MODULE": "on",
    }


COMPOSECHECK_SRC = Path(__file__).parent / "composecheck"


def composecheck_binary() -> Path:
    """composecheck/ built once per change of its sources (go.mod pins compose-go)."""
    cache = StackSettings().cache_dir
    sources = [COMPOSECHECK_SRC / name for name in ("go.mod", "go.sum", "main.go")]
    binary = cache / "composecheck" / fingerprint(*sources) / "composecheck"
    if not binary.is_file():
        env = {**_go_env(cache), "GOFLAGS": "-modcacherw -mod=readonly"}
        binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_name(f".composecheck-{os.getpid()}")
        result = subprocess.run(
            [find_go(), "build", "-trimpath", "-o", tmp, "."],
            capture_output=True,
            text=True,
            env=env,
            cwd=COMPOSECHECK_SRC,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"building composecheck failed: {result.stderr.strip()[-2000:]}")
        tmp.replace(binary)
    return binary


def compose_spec_schema() -> dict[str, Any]:
    """The Compose Specification JSON Schema of compose-go COMPOSE_GO_VERSION (cached)."""
    cache = StackSettings().cache_dir
    cached = cache / "compose-spec" / f"compose-go-{COMPOSE_GO_VERSION}.json"
    if not cached.is_file():
        go = find_go()
        env = _go_env(cache)
        work = cache / "compose-spec"
        work.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [go, "mod", "download", "-json", f"{COMPOSE_GO}@{COMPOSE_GO_VERSION}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,  # outside any Go module
            timeout=300,
            check=False,
        )
        info = json.loads(result.stdout or "{}")
        if result.returncode != 0 or "Dir" not in info:
            raise RuntimeError(
                f"go mod download {COMPOSE_GO}@{COMPOSE_GO_VERSION} failed: "
                f"{info.get('Error') or result.stderr.strip()}"
            )
        tmp = cached.with_suffix(".tmp")
        shutil.copyfile(Path(info["Dir"]) / SCHEMA_IN_MODULE, tmp)
        tmp.replace(cached)
    schema = json.loads(cached.read_text())
    assert isinstance(schema, dict)
    return schema


def known_iotpipe_variables() -> set[str]:
    """Every IOTPIPE_* variable the code reads: settings fields and CLI options' envvars."""
    known = {f"IOTPIPE_INGEST_{f.upper()}" for f in IngestSettings.model_fields}
    known |= {f"IOTPIPE_SINK_{f.upper()}" for f in SinkSettings.model_fields}
    known |= {f"IOTPIPE_{f.upper()}" for f in EndpointSettings.model_fields}
    known |= {f"IOTPIPE_{f.upper()}" for f in StackSettings.model_fields}

    def envvars(command: Any) -> set[str]:
        found = {p.envvar for p in command.params if isinstance(p.envvar, str)}
        for sub in getattr(command, "commands", {}).values():
            found |= envvars(sub)
        return found

    return known | envvars(typer.main.get_command(app))
