"""API keys stored as hashes in one JSON file; the key itself is shown once, at creation.

A key looks like ``iotp_<key id>_<secret>``: the id finds the entry, the secret (32
random bytes) is checked against its SHA-256 in constant time. Keys are random and long,
so a fast hash is right (a slow password hash buys nothing here). A device key publishes
for its own device only; an admin key (for operations: backfills, replays, tests)
publishes for any device. The file is re-read when it changes (looked at every half
second), so ``iotpipe keys create`` and ``revoke`` take effect on a running ingest within
a second.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from iotpipe.errors import ConfigError

__all__ = ["ADMIN", "KeyEntry", "KeyStore", "Principal"]

ADMIN = "*"
_MAX_REMEMBERED = 100_000  # verified keys kept between two changes of the key file
_KEY = re.compile(r"^iotp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
Role = Literal["device", "admin"]


@dataclass(frozen=True)
class Principal:
    key_id: str
    device_id: str  # ADMIN for admin keys
    role: Role

    def may_publish_for(self) -> frozenset[str] | None:
        return None if self.role == "admin" else frozenset({self.device_id})


@dataclass(frozen=True)
class KeyEntry:
    key_id: str
    device_id: str
    role: Role
    sha256: str
    created: str
    revoked: str | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    def __init__(self, path: Path, *, recheck: float = 0.5) -> None:
        self.path = path
        self.recheck = recheck
        self._lock = threading.Lock()
        self._entries: dict[str, KeyEntry] = {}
        self._stamp: tuple[int, int] | None = None
        self._next_check = 0.0
        self._verified: dict[str, Principal] = {}

    def _load(self) -> dict[str, KeyEntry]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._entries, self._stamp = {}, None
            return self._entries
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                data = json.loads(self.path.read_text())
                entries = {e["key_id"]: KeyEntry(**e) for e in data.get("keys", [])}
            except (ValueError, TypeError, KeyError) as exc:
                raise ConfigError(f"{self.path} is not a valid key file: {exc}") from exc
            self._entries, self._stamp = entries, stamp
        return self._entries

    def _save(self, entries: dict[str, KeyEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = {"version": 1, "keys": [asdict(e) for e in entries.values()]}
        tmp.write_text(json.dumps(body, indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(self.path)
        self._next_check = 0.0  # this process's own change counts at once
        self._verified = {}

    def create(self, device_id: str, role: Role = "device") -> tuple[KeyEntry, str]:
        """A new key; returns the entry and the key text (shown once, never stored)."""
        if role == "device" and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", device_id):
            raise ConfigError(f"{device_id!r} is not a valid device id")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        entry = KeyEntry(
            key_id=key_id,
            device_id=ADMIN if role == "admin" else device_id,
            role=role,
            sha256=_digest(secret),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with self._lock:
            entries = dict(self._load())
            entries[key_id] = entry
            self._save(entries)
        return entry, f"iotp_{key_id}_{secret}"

    def revoke(self, key_id: str) -> KeyEntry:
        with self._lock:
            entries = dict(self._load())
            entry = entries.get(key_id)
            if entry is None:
                raise ConfigError(f"no key with id {key_id!r}")
            entries[key_id] = KeyEntry(
                **{**asdict(entry), "revoked": datetime.now(UTC).isoformat(timespec="seconds")}
            )
            self._save(entries)
            return entries[key_id]

    def list(self) -> list[KeyEntry]:
        with self._lock:
            return sorted(self._load().values(), key=lambda e: (e.device_id, e.created))

    def verify(self, presented: str) -> Principal | None:
        """The principal a key stands for, or None (unknown, malformed or revoked).

        The key file is looked at again at most every ``recheck`` seconds (a stat on
        every request was a tenth of a single reading's CPU), so a key created or
        revoked takes effect within that; keys verified since the file last changed are
        remembered (a hash of the secret per request, otherwise)."""
        now = time.monotonic()
        if now >= self._next_check:
            with self._lock:
                before = self._stamp
                self._load()
                if self._stamp != before:
                    self._verified = {}
            self._next_check = now + self.recheck
        known = self._verified.get(presented)
        if known is not None:
            return known
        principal = self._verify(presented)
        if principal is not None and len(self._verified) < _MAX_REMEMBERED:
            self._verified[presented] = principal
        return principal

    def _verify(self, presented: str) -> Principal | None:
        match = _KEY.fullmatch(presented.strip())
        if match is None:
            return None
        key_id, secret = match.groups()
        with self._lock:
            entry = self._entries.get(key_id)
        expected = entry.sha256 if entry is not None else "0" * 64
        ok = hmac.compare_digest(_digest(secret), expected)
        if entry is None or entry.revoked is not None or not ok:
            return None
        return Principal(key_id=key_id, device_id=entry.device_id, role=entry.role)
