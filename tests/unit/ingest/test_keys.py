from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

import pytest

from ingest.auth.keys import ADMIN, KeyStore
from iotpipe.errors import ConfigError


def test_key_is_shown_once_and_only_its_hash_stored(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    entry, key = store.create("dev-1")
    text = (tmp_path / "keys.json").read_text()
    # iotp_<12 hex id>_<secret>: the secret itself may hold "_" (URL-safe base64)
    prefix = f"iotp_{entry.key_id}_"
    assert key.startswith(prefix)
    secret = key.removeprefix(prefix)
    assert len(secret) == 43
    assert secret not in text
    assert entry.sha256 in text
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    principal = store.verify(key)
    assert principal is not None
    assert (principal.device_id, principal.role) == ("dev-1", "device")
    assert principal.may_publish_for() == frozenset({"dev-1"})


def test_wrong_malformed_and_revoked_keys_are_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    entry, key = store.create("dev-1")
    assert store.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.verify("not-a-key") is None
    assert store.verify("") is None
    store.revoke(entry.key_id)
    assert store.verify(key) is None
    with pytest.raises(ConfigError, match="no key with id"):
        store.revoke("nope")


def test_admin_key_publishes_for_any_device(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    _, key = store.create("ops", "admin")
    principal = store.verify(key)
    assert principal is not None
    assert principal.device_id == ADMIN
    assert principal.may_publish_for() is None


def test_a_running_store_sees_keys_created_by_another_process(tmp_path: Path) -> None:
    running = KeyStore(tmp_path / "keys.json")
    assert running.list() == []
    _, key = KeyStore(tmp_path / "keys.json").create("dev-2")  # e.g. `iotpipe keys create`
    assert running.verify(key) is not None


def test_invalid_device_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a valid device id"):
        KeyStore(tmp_path / "keys.json").create("bad id")


def test_a_key_revoked_elsewhere_is_refused_within_the_recheck(tmp_path: Path) -> None:
    running = KeyStore(tmp_path / "keys.json", recheck=0.05)
    entry, key = KeyStore(tmp_path / "keys.json").create("dev-3")
    assert running.verify(key) is not None  # verified, and remembered
    KeyStore(tmp_path / "keys.json").revoke(entry.key_id)  # e.g. `iotpipe keys revoke`
    time.sleep(0.1)
    assert running.verify(key) is None


def test_the_key_file_is_not_looked_at_on_every_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = KeyStore(tmp_path / "keys.json", recheck=60)
    _, key = store.create("dev-4")
    assert store.verify(key) is not None
    looked: list[Path] = []
    original = Path.stat

    def counting(self: Path, **kwargs: Any) -> Any:
        looked.append(self)
        return original(self, **kwargs)

    monkeypatch.setattr(Path, "stat", counting)
    for _ in range(100):
        assert store.verify(key) is not None
    assert looked == []


def test_a_key_revoked_through_the_same_store_is_refused_at_once(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json", recheck=60)
    entry, key = store.create("dev-5")
    assert store.verify(key) is not None
    store.revoke(entry.key_id)
    assert store.verify(key) is None
