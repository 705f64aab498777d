"""Marks every test by its folder: tests/unit -> unit, tests/integration -> integration."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(item.path).relative_to(_HERE).parts[0]
        if folder in {"unit", "integration"}:
            item.add_marker(getattr(pytest.mark, folder))
