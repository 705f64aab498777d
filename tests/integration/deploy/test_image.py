"""The Dockerfile, read statically, and its build stage replayed without Docker.

The build context is assembled by the ``.dockerignore`` rules and the build stage's
COPY lines, the wheel is built from it and installed (runtime dependencies only) into a
fresh virtualenv, and the image's HEALTHCHECK command is run against an ingest started
from that install: what the image would do, minus the container.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from iotpipe.paths import REPO_DIR
from tests.integration.deploy.compose import COMPOSE_FILES, known_iotpipe_variables, load
from tests.support import free_port

Instruction = tuple[str, str]


def instructions(path: Path = REPO_DIR / "Dockerfile") -> list[Instruction]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    joined, found = "", []
    for line in path.read_text().splitlines():
        if not joined and (not line.strip() or line.lstrip().startswith("#")):
            continue
        joined += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            keyword, _, rest = joined.partition(" ")
            found.append((keyword.upper(), rest.strip()))
            joined = ""
    return found


def final_stage() -> list[Instruction]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def env_of(steps: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in steps:
        if keyword == "ENV":
            env.update(re.findall(r"(\w+)=(\S+)", rest))
    return env


def test_image_is_python_311_slim_non_root_with_iotpipe_as_entrypoint() -> None:
    steps = instructions()
    args = dict(re.findall(r"(\w+)=(\S+)", " ".join(r for k, r in steps if k == "ARG")))
    bases = [rest.split()[0] for keyword, rest in steps if keyword == "FROM"]
    assert {base.replace("${PYTHON_IMAGE}", args["PYTHON_IMAGE"]) for base in bases} == {
        "python:3.11-slim"
    }
    stage = final_stage()
    users = [rest for keyword, rest in stage if keyword == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}
    assert ("ENTRYPOINT", '["iotpipe"]') in stage
    healthcheck = [rest for keyword, rest in stage if keyword == "HEALTHCHECK"]
    assert len(healthcheck) == 1 and " CMD [" in healthcheck[0]
    volumes = [json.loads(rest) for keyword, rest in stage if keyword == "VOLUME"]
    assert volumes == [["/var/lib/iotpipe"]]
    env = env_of(stage)
    in_container = "0.0.0.0"  # noqa: S104 - inside the container, published by compose
    assert env["IOTPIPE_INGEST_HOST"] == env["IOTPIPE_SINK_HEALTH_HOST"] == in_container
    assert env["IOTPIPE_INGEST_KEYS_FILE"].startswith("/var/lib/iotpipe/")
    assert {k for k in env if k.startswith("IOTPIPE_")} <= known_iotpipe_variables()


def _pattern(rule: str) -> re.Pattern[str]:
    regex = ""
    i = 0
    while i < len(rule):
        if rule.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif rule.startswith("**", i):
            regex, i = regex + ".*", i + 2
        else:
            regex += {"*": "[^/]*", "?": "[^/]"}.get(rule[i], re.escape(rule[i]))
            i += 1
    return re.compile(regex)


def dockerignored(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parents = [str(Path(*Path(path).parts[: n + 1])) for n in range(len(Path(path).parts))]
    ignored = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern = _pattern(rule.removeprefix("!").strip("/"))
        if any(pattern.fullmatch(p) for p in parents):
            ignored = not negate
    return ignored


def build_context() -> list[str]:
    rules = [
        line.strip()
        for line in (REPO_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [f for f in files if (REPO_DIR / f).is_file() and not dockerignored(f, rules)]


def copied_sources() -> list[str]:
    build_stage = instructions()[: len(instructions()) - len(final_stage())]
    sources = []
    for keyword, rest in build_stage:
        if keyword == "COPY" and "--from" not in rest:
            sources += rest.split()[:-1]
    return sources


def test_the_build_copies_everything_the_wheel_is_made_of_and_nothing_else() -> None:
    project = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = ["pyproject.toml", project["project"]["readme"], *wheel["packages"]]
    needed += list(wheel["force-include"])
    copied = {s.rstrip("/") for s in copied_sources()}
    assert set(needed) <= copied, f"not copied into the build stage: {set(needed) - copied}"
    context = build_context()
    for source in copied:
        assert any(f == source or f.startswith(f"{source}/") for f in context), source
    assert not [f for f in context if f.startswith(("tests/", "grafana/", ".venv/", ".git/"))]
    assert "Dockerfile" not in context and not [f for f in context if "__pycache__" in f]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_built_wheel_installs_runs_and_answers_the_image_healthcheck(tmp_path: Path) -> None:
    source = tmp_path / "src"
    copied = tuple(s.rstrip("/") for s in copied_sources())
    for file in build_context():
        if file in copied or file.startswith(tuple(f"{s}/" for s in copied)):
            (source / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_DIR / file, source / file)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv is a dev dependency"

    def run(*args: str | Path, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(a) for a in args], capture_output=True, text=True, timeout=300, check=False,
            cwd=cwd,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    run(uv, "build", "--wheel", "--out-dir", tmp_path / "dist", source)
    venv = tmp_path / "venv"
    run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    (wheel,) = (tmp_path / "dist").glob("iotpipe-*.whl")
    run(uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel)

    python = venv / "bin" / "python"
    probe = run(
        python, "-c",
        "import importlib.util as u; from iotpipe.contract.catalog import Contract, schemas_dir;"
        "print(len(Contract.load().record_types)); print(schemas_dir());"
        "print([m for m in ('pytest', 'mypy', 'jsonschema') if u.find_spec(m)])",
        cwd=tmp_path,
    )  # fmt: skip
    count, schemas, dev_tools = probe.stdout.splitlines()
    assert int(count) >= 2 and schemas.startswith(str(venv)), "the wheel carries the schemas"
    assert dev_tools == "[]", "runtime dependencies only"
    assert "topics" in run(venv / "bin" / "iotpipe", "--help").stdout

    # The image's HEALTHCHECK, as written, against an ingest from this install.
    (healthcheck,) = [rest for keyword, rest in final_stage() if keyword == "HEALTHCHECK"]
    check = json.loads(healthcheck.split(" CMD ", 1)[1])
    port = free_port()
    check = [part.replace(":8000/", f":{port}/") for part in check]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IOTPIPE_")},
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        **{k: v for k, v in env_of(final_stage()).items() if k.startswith("IOTPIPE_")},
        "IOTPIPE_INGEST_HOST": "127.0.0.1",  # loopback here; the image listens on 0.0.0.0
        "IOTPIPE_INGEST_PORT": str(port),
        "IOTPIPE_INGEST_KEYS_FILE": str(tmp_path / "keys.json"),
        # Never contacted for /healthz: ingest must answer it without Kafka or a registry.
        "IOTPIPE_INGEST_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "IOTPIPE_INGEST_REGISTRY_URL": "http://127.0.0.1:1/apis/ccompat/v7",
    }
    # A file, not a pipe: ingest logs Kafka's refusals meanwhile, and a pipe nobody reads
    # fills (64 KiB) and blocks its writers, so it would never exit.
    log = tmp_path / "ingest.log"
    with log.open("wb") as stderr:
        ingest = subprocess.Popen(
            [venv / "bin" / "iotpipe", "ingest"], env=env, stdout=subprocess.DEVNULL,
            stderr=stderr, cwd=tmp_path,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(check, env=env, capture_output=True, check=False).returncode != 0:
            assert ingest.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the healthcheck never passed"
            time.sleep(0.5)
    finally:
        ingest.send_signal(signal.SIGTERM)
        try:
            ingest.wait(30)
        except subprocess.TimeoutExpired:
            ingest.kill()
            pytest.fail(f"ingest did not stop within 30 s of SIGTERM: {log.read_text()[-3000:]}")
    assert subprocess.run(check, env=env, capture_output=True, check=False).returncode != 0

    # compose's checks for ingest and sink are the same probe on their own ports.
    for compose_file in COMPOSE_FILES.values():
        services = load(compose_file)["services"]
        assert services["ingest"]["healthcheck"]["test"][1:] == [
            part.replace(f":{port}/", ":8000/") for part in check
        ]
        assert services["sink"]["healthcheck"]["test"][1:] == [
            part.replace(f":{port}/", ":9108/") for part in check
        ]
