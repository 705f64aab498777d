"""What a measuring command leaves behind (``iotpipe bench``, ``iotpipe soak``): the
result as ``latest.json`` and its chart as ``latest.png`` in one folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["pyplot", "write_results"]


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only backend (matplotlib is the bench extra)."""
    import matplotlib as mpl  # noqa: PLC0415 - optional, loaded only to draw

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def write_results(
    result: dict[str, Any], folder: Path, draw: Callable[[dict[str, Any], Path], None]
) -> tuple[Path, Path]:
    """Write ``latest.json`` and let ``draw`` write ``latest.png``; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "latest.json"
    data.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    chart = folder / "latest.png"
    draw(result, chart)
    return data, chart
