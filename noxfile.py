"""Developer and CI sessions. ``make <target>`` bootstraps nox itself on a fresh machine.

nox -s tests       unit + integration tests (starts or reuses the local stack)
nox -s heavy       the tests marked heavy (minutes each; left out of ``nox -s tests``)
nox -s lint        ruff check + ruff format --check
nox -s typecheck   mypy --strict
nox -s demo        brings the local stack up and shows it healthy
nox -s fuzz        schemathesis with many examples + the bad-input cases
nox -s docs        the docs site, strictly built into site/ (``-- serve`` to serve it)
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "typecheck", "contract", "tests"]


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite; pass pytest options after --, e.g. ``-- -m unit``."""
    _install(session)
    session.run("pytest", *session.posargs)


@nox.session
def heavy(session: nox.Session) -> None:
    """The tests marked ``heavy``, which run for minutes and so stay out of ``nox -s tests``
    (pyproject's addopts deselect them); pytest options after --."""
    _install(session)
    session.run("pytest", "-m", "heavy", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    _install(session)
    session.run("mypy")


@nox.session
def contract(session: nox.Session) -> None:
    """Generated code and dashboards are current, and the schemas are compatible with the
    previous commit (registered into the local stack's registry under throwaway subjects)."""
    _install(session)
    session.run("iotpipe", "codegen", "--check")
    session.run("iotpipe", "dashboards", "generate", "--check")
    baseline = session.posargs[0] if session.posargs else "HEAD~1"
    has_baseline = session.run(
        "git",
        "rev-parse",
        "--verify",
        "--quiet",
        f"{baseline}^{{commit}}",
        external=True,
        silent=True,
        success_codes=[0, 1, 128],
    )
    if not has_baseline:
        session.warn(f"no {baseline} in this clone: nothing to check compatibility against")
        return
    was_up = session.run("python", "-c", _REGISTRY_UP, silent=True)
    session.run("iotpipe", "stack", "up", "registry")
    try:
        session.run("iotpipe", "schemas", "check", "--against", baseline)
    finally:  # leave the stack as found: a registry started here is stopped here
        if not (isinstance(was_up, str) and was_up.strip() == "up"):
            session.run("iotpipe", "stack", "down", "registry")


_REGISTRY_UP = (
    "from iotpipe.stack.manager import Stack; from iotpipe.stack.settings import StackSettings; "
    "s = Stack(StackSettings()).status(); "
    "print('up' if any(x.name == 'registry' and x.running for x in s.services) else 'down')"
)


@nox.session
def docs(session: nox.Session) -> None:
    """The docs site (MkDocs, Material): a strict build into site/ (a warning fails it);
    ``-- serve`` serves it on 127.0.0.1:8000 and rebuilds on change (more arguments go to
    ``mkdocs serve``, e.g. ``-- serve -a 127.0.0.1:8001``). The CLI page is written from
    the code at each build (mkdocs_hooks.py), hence the project in this env."""
    session.install("-e", ".[docs]")
    env = {"NO_MKDOCS_2_WARNING": "1"}  # Material's banner about its successor
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", "-a", "127.0.0.1:8000", *session.posargs[1:], env=env)
    else:
        session.run("mkdocs", "build", "--strict", "--clean", *session.posargs, env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark (``iotpipe bench``): figures against their limits, in one run. Builds
    its load generator on first use (Go, ~30 s; iotpipe/bench/loadgen.py). Arguments after
    ``--`` go to ``iotpipe bench``."""
    session.install("-e", ".[dev,bench]")
    session.run("iotpipe", "bench", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The whole pipeline on the local stack for 30 s (``-- --duration N`` to change)."""
    _install(session)
    session.run("iotpipe", "demo", *(session.posargs or ["--duration", "30"]))


@nox.session
def chaos(session: nox.Session) -> None:
    """The fault-injection suite (``iotpipe chaos``), full form, on private stacks of its
    own (one broker, then three; never the one ``nox -s tests`` uses); ``-- --short`` for
    the short form, ``-- --ci --short`` for what CI runs (docs/reliability.md)."""
    _install(session)
    session.run("iotpipe", "chaos", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """The soak run (``iotpipe soak``): half of peak for 10 minutes; memory flat, no error,
    lag back to zero. Not in the default sessions nor in CI. The peak probe uses the
    bench's load generator. Arguments after ``--`` go to ``iotpipe soak``, e.g.
    ``-- --minutes 3``."""
    session.install("-e", ".[dev,bench]")
    session.run("iotpipe", "soak", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """schemathesis over every operation (positive, negative, and stateful through the
    OpenAPI links), IOTPIPE_FUZZ_EXAMPLES per operation and mode (300 here, 20 in CI),
    then the hand-written bad-input cases. Needs the local stack, as ``nox -s tests``."""
    _install(session)
    examples = os.environ.get("IOTPIPE_FUZZ_EXAMPLES", "300")
    session.run(
        "pytest",
        "-s",
        "tests/integration/ingest/test_schemathesis.py",
        "tests/unit/ingest/test_bad_input.py",
        "tests/integration/ingest/test_bad_input.py",
        *session.posargs,
        env={"IOTPIPE_FUZZ_EXAMPLES": examples},
    )
