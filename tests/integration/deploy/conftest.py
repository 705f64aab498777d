"""Deployment files, read statically: there is no Docker engine where the tests run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.deploy.compose import COMPOSE_FILES, compose_spec_schema, load


@pytest.fixture(scope="session")
def compose_schema() -> dict[str, Any]:
    """Fetched once per machine (go mod download), then read from the cache."""
    return compose_spec_schema()


@pytest.fixture(params=sorted(COMPOSE_FILES), scope="module")
def compose(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each compose file, parsed (anchors and merge keys resolved), not interpolated."""
    name = str(request.param)
    return name, load(COMPOSE_FILES[name])
