"""Boxes read from openSenseMap's JSON: ids, sensors, auth defaults, the token kept hashed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iotpipe.devices.boxes import Box, InMemoryBoxes, hash_token
from iotpipe.errors import ConfigError
from iotpipe.paths import REPO_DIR

TOKEN = "ab" * 32


def example() -> dict[str, Any]:
    path = REPO_DIR / "tests/fixtures/opensensemap/box_and_sensors.json"
    data: dict[str, Any] = json.loads(path.read_text())["box_get_example_verbatim"]["json"]
    return data


def test_reads_the_apidoc_box() -> None:
    box = Box.from_osem(example())
    assert box.id == "57000b8745fd40c8196ad04c"
    assert box.name == "Oststr/Mauritzsteinpfad"
    assert len(box.sensors) == 7
    temp = box.sensor("57000b8745fd40c8196ad052")
    assert temp is not None
    assert (temp.title, temp.unit, temp.sensor_type) == ("Temperatur", "°C", "HDC1008")
    assert box.location == (7.64568, 51.962372, None)
    assert box.exposure == "outdoor"


def test_ids_are_case_insensitive() -> None:
    data = example()
    data["_id"] = data["_id"].upper()
    box = Box.from_osem(data)
    assert box.id == "57000b8745fd40c8196ad04c"
    assert box.sensor("57000B8745FD40C8196AD052") is not None
    assert InMemoryBoxes([box]).get("57000B8745FD40C8196AD04C") is box


@pytest.mark.parametrize(
    ("model", "expected"), [("homeV2Wifi", True), ("luftdaten_sds011_dht22", False), (None, False)]
)
def test_use_auth_defaults_by_model(model: str | None, expected: bool) -> None:
    data = {**example(), "model": model, "access_token": TOKEN}
    assert Box.from_osem(data).use_auth is expected


def test_token_is_hashed_and_checked_exactly() -> None:
    box = Box.from_osem({**example(), "useAuth": True, "access_token": TOKEN})
    assert box.token_sha256 == hash_token(TOKEN)
    assert TOKEN not in json.dumps(box.as_registry())
    assert box.token_matches(TOKEN)
    assert not box.token_matches(TOKEN.upper())
    assert not box.token_matches(f"Bearer {TOKEN}")
    assert not box.token_matches(None)
    assert box.requires_token()


def test_without_a_token_anything_goes_even_for_hackair() -> None:
    box = Box.from_osem({**example(), "useAuth": True})
    assert not box.requires_token(hackair=True)
    assert box.token_matches("whatever")


def test_registry_form_round_trips() -> None:
    box = Box.from_osem({**example(), "useAuth": True, "access_token": TOKEN, "model": "homeV2"})
    again = Box.from_osem(box.as_registry())
    assert again == box
    assert again.token_matches(TOKEN)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"_id": "not-an-id"}, "box _id must be 24 hex"),
        ({"sensors": None}, "'sensors' must be a list"),
        ({"sensors": [{"_id": "x"}]}, r"sensors\[0\]._id must be 24 hex"),
        ({"sensors": ["x"]}, r"sensors\[0\] must be an object"),
    ],
)
def test_bad_boxes_are_refused_with_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Box.from_osem({**example(), **change})
