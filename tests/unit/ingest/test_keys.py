from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from ingest.app import create_app
from ingest.auth import keys as keys_module
from ingest.auth.keys import ADMIN, KeyStore
from ingest.publisher.memory import MemoryPublisher
from ingest.settings import IngestSettings
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


def test_a_key_revoked_through_the_same_store_is_refused_at_once(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json", recheck=60)
    entry, key = store.create("dev-5")
    assert store.verify(key) is not None
    store.revoke(entry.key_id)
    assert store.verify(key) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_key_file_is_looked_at_once_per_recheck_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a stat per request: within a window none at all; the first request after it
    looks once, and a key revoked elsewhere meanwhile is refused from then on (the
    revocation bound)."""
    clock = FakeClock()
    running = KeyStore(tmp_path / "keys.json", recheck=0.5, clock=clock)
    entry, key = KeyStore(tmp_path / "keys.json").create("dev-6")
    assert running.verify(key) is not None
    looked: list[Path] = []
    original = Path.stat

    def counting(self: Path, **kwargs: Any) -> Any:
        looked.append(self)
        return original(self, **kwargs)

    monkeypatch.setattr(Path, "stat", counting)
    KeyStore(tmp_path / "keys.json").revoke(entry.key_id)  # e.g. `iotpipe keys revoke`
    looked.clear()
    clock.now += 0.499
    for _ in range(50):
        assert running.verify(key) is not None  # within the window: the old answer
    assert looked == []
    clock.now += 0.001
    assert running.verify(key) is None
    assert looked == [tmp_path / "keys.json"]
    for _ in range(50):
        assert running.verify(key) is None
    assert len(looked) == 1


def test_a_key_verified_while_the_file_changes_is_not_remembered_past_the_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that checked a key against the old file must not leave it remembered in
    the new one: the remembered keys belong to the file they were checked against."""
    running = KeyStore(tmp_path / "keys.json", recheck=0.01)
    entry, key = KeyStore(tmp_path / "keys.json").create("dev-7")
    _, other = KeyStore(tmp_path / "keys.json").create("dev-8")
    real_digest = keys_module._digest
    revoked = False

    def digest_while_revoking(secret: str) -> str:
        # Meanwhile, on another thread: the key is revoked and a request after the
        # recheck re-reads the file.
        nonlocal revoked
        if not revoked:
            revoked = True
            KeyStore(tmp_path / "keys.json").revoke(entry.key_id)
            time.sleep(0.05)
            assert running.verify(other) is not None
        return real_digest(secret)

    monkeypatch.setattr(keys_module, "_digest", digest_while_revoking)
    running.verify(key)  # checked against the file before the revocation
    assert revoked
    assert running.verify(key) is None


def test_a_key_file_replaced_by_one_of_the_same_size_and_time_is_read_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.json"
    running = KeyStore(path, recheck=0.01)
    _, key = KeyStore(path).create("dev-9")
    assert running.verify(key) is not None
    before = path.stat()
    text = path.read_text()
    revoked = text.replace('"revoked": null', '"revoked": "xx"')
    assert revoked != text
    replacement = tmp_path / "keys.new"
    replacement.write_text(revoked)
    assert replacement.stat().st_size == before.st_size
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    replacement.replace(path)  # a new file, as an editor or `iotpipe keys revoke` makes
    time.sleep(0.05)
    assert running.verify(key) is None


def test_the_recheck_window_is_ingests_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOTPIPE_INGEST_KEYS_RECHECK_MS", "1234")
    settings = IngestSettings(keys_file=tmp_path / "keys.json")
    app = create_app(settings=settings, publisher=MemoryPublisher())
    keys = app.state.ingest.keys
    assert (keys.path, keys.recheck) == (tmp_path / "keys.json", 1.234)
    assert IngestSettings.model_fields["keys_recheck_ms"].default == 500
