"""Keys and box tokens: compared in constant time on fixed-length digests, stored only as
their SHA-256, and the stored hash is no credential itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingest.auth.keys import KeyStore
from iotpipe.devices.boxes import Box, hash_token
from iotpipe.devices.topic import encode_box
from sink.devices import device_document
from tests.unit.devices.registry_fakes import box_json

Calls = list[tuple[Any, Any]]


@pytest.fixture
def compare_calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Every hmac.compare_digest call (the real one still answers)."""
    calls: Calls = []
    real: Callable[[Any, Any], bool] = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    return calls


def _hex64(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def test_every_key_check_is_one_constant_time_comparison_of_two_digests(
    tmp_path: Path, compare_calls: Calls
) -> None:
    store = KeyStore(tmp_path / "keys.json")
    entry, key = store.create("dev-1")
    revoked_entry, revoked = store.create("dev-2")
    store.revoke(revoked_entry.key_id)
    _, key_id, secret = key.split("_", 2)  # the secret may hold "_" itself
    wrong = f"iotp_{key_id}_{secrets.token_urlsafe(32)}"
    unknown = f"iotp_{'0' * 12}_{secret}"
    presented = {"valid": key, "wrong secret": wrong, "unknown id": unknown, "revoked": revoked}
    outcomes = {what: store.verify(text) is not None for what, text in presented.items()}
    assert outcomes == {"valid": True, "wrong secret": False, "unknown id": False, "revoked": False}
    # One comparison per check, also for an unknown id (no early exit telling ids apart),
    # always of two fixed-length digests: the time does not depend on the secret.
    assert len(compare_calls) == len(presented)
    for a, b in compare_calls:
        assert _hex64(a) and _hex64(b)
    assert compare_calls[0] == (hashlib.sha256(secret.encode()).hexdigest(), entry.sha256)


def test_every_box_token_check_is_one_constant_time_comparison_of_two_digests(
    compare_calls: Calls,
) -> None:
    token = secrets.token_hex(32)
    box = Box.from_osem(box_json(access_token=token))
    tries = [token, token[:-1], "", None, "x" * 10_000, f"Bearer {token}"]
    assert [box.token_matches(t) for t in tries] == [True] + [False] * (len(tries) - 1)
    assert len(compare_calls) == len(tries)
    for a, b in compare_calls:
        assert _hex64(a) and b == box.token_sha256


def test_the_key_file_holds_hashes_never_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    store = KeyStore(path)
    keys = [store.create("dev-1")[1], store.create("ops", "admin")[1], store.create("dev-2")[1]]
    store.revoke(keys[2].split("_")[1])
    text = path.read_text()
    for key in keys:
        secret = key.split("_", 2)[2]
        assert secret not in text and key not in text
        assert hashlib.sha256(secret.encode()).hexdigest() in text
    assert set(json.loads(text)["keys"][0]) == {
        "key_id", "device_id", "role", "sha256", "created", "revoked",
    }  # fmt: skip


def test_a_stored_hash_is_no_credential(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    entry, _ = store.create("dev-1")
    assert store.verify(f"iotp_{entry.key_id}_{entry.sha256}") is None
    token = secrets.token_hex(32)
    box = Box.from_osem(box_json(access_token=token))
    assert box.token_sha256 is not None
    assert not box.token_matches(box.token_sha256)


def test_the_registry_record_and_the_sink_document_hold_no_token() -> None:
    token = secrets.token_hex(32)
    box = Box.from_osem(box_json(access_token=token))
    _, value = encode_box(box)
    record = value.decode()
    assert token not in record
    assert json.loads(record)["box"]["access_token_sha256"] == hash_token(token)
    document = json.dumps(device_document(box), default=str)
    assert token not in document and hash_token(token) not in document


def test_the_sinks_database_uri_is_a_secret_in_its_settings() -> None:
    from sink.settings import SinkSettings  # noqa: PLC0415

    uri = "mongodb://iotpipe_sink:S3cr3t-canary@db:27017/iotpipe"
    settings = SinkSettings(mongodb_uri=uri)  # a plain string, as the environment gives it
    assert "S3cr3t-canary" not in f"{settings!r} {settings} {settings.model_dump()}"
    assert settings.mongodb_uri is not None
    assert settings.mongodb_uri.get_secret_value() == uri
