"""Reading an import file for ``iotpipe devices import``: every box checked before any
is published, so a file is taken whole or not at all.

Owners bring boxes over in openSenseMap's own JSON (``GET /boxes/:id``, or the owner's
``GET /users/me/boxes[/:boxId]`` that also holds ``access_token`` and ``useAuth``): one
box object, a list of them, an object with a ``boxes`` list or name -> box object, or
the owner's API answer as saved. Every problem is reported at once, each with where it
is in the file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from iotpipe.devices.boxes import Box
from iotpipe.errors import ConfigError

__all__ = ["parse_boxes"]

_SHAPES = (
    "a box object (with _id), a JSON list of boxes, or an object with a 'boxes' list or object"
)


def parse_boxes(text: str, *, source: str = "the file") -> list[Box]:
    """The boxes of an import file, or ConfigError listing every problem in it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not JSON: {exc}") from exc
    entries = _entries(data, source)
    boxes: list[Box] = []
    problems: list[str] = []
    first_seen: dict[str, str] = {}
    for label, item in entries:
        try:
            box = _box(item)
        except ConfigError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if box.id in first_seen:
            problems.append(f"{label}: box {box.id} appears twice (also {first_seen[box.id]})")
            continue
        first_seen[box.id] = label
        boxes.append(box)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"{source}: {len(problems)} problem(s), nothing was imported:\n{listing}")
    if not boxes:
        raise ConfigError(f"{source} holds no boxes; expected {_SHAPES}")
    return boxes


def _entries(data: Any, source: str) -> list[tuple[str, Any]]:
    if isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
        # The owner's API answers as saved: GET /users/me/boxes ({"code": "Ok", "data":
        # {"boxes": [...]}}) and GET /users/me/boxes/:boxId ({"data": {"box": {...}}}).
        inner = data["data"]
        if isinstance(inner.get("box"), Mapping):
            return [("data.box", inner["box"])]
        if isinstance(inner.get("boxes"), list):
            return [(f"data.boxes[{i}]", item) for i, item in enumerate(inner["boxes"])]
    if isinstance(data, list):
        return [(f"[{i}]", item) for i, item in enumerate(data)]
    if isinstance(data, Mapping):
        if "_id" in data:
            return [("the box", data)]
        boxes = data.get("boxes")
        if isinstance(boxes, list):
            return [(f"boxes[{i}]", item) for i, item in enumerate(boxes)]
        if isinstance(boxes, Mapping):
            return [(f"boxes[{json.dumps(k)}]", item) for k, item in boxes.items()]
    raise ConfigError(f"{source}: expected {_SHAPES}")


def _box(item: Any) -> Box:
    if not isinstance(item, Mapping):
        raise ConfigError(f"expected a box object, got {type(item).__name__}")
    box = Box.from_osem(item)
    twice = sorted(sid for sid, n in Counter(s.id for s in box.sensors).items() if n > 1)
    if twice:
        raise ConfigError(f"box {box.id}: sensor id {', '.join(twice)} appears twice")
    if box.use_auth and box.token_sha256 is None:
        raise ConfigError(
            f"box {box.id}: useAuth is on but there is no access_token (the owner's view "
            "of the box has it); without one the box would accept anyone's posts. Add it, "
            "or set useAuth to false"
        )
    return box
