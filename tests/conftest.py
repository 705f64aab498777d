"""Marks every test by its folder: tests/unit -> unit, tests/integration -> integration,
tests/interop -> interop and integration (other languages' clients need the real stack too)."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent
_MARKERS = {
    "unit": ("unit",),
    "integration": ("integration",),
    "interop": ("interop", "integration"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(item.path).relative_to(_HERE).parts[0]
        for marker in _MARKERS.get(folder, ()):
            item.add_marker(getattr(pytest.mark, marker))
