"""API keys stored as hashes in one JSON file; the key itself is shown once, at creation.

A key looks like ``iotp_<key id>_<secret>``: the id finds the entry, the secret (32
random bytes) is checked against its SHA-256 in constant time. Keys are random and long,
so a fast hash is right (a slow password hash buys nothing here). A device key publishes
for its own device only; an admin key (for operations: backfills, replays, tests)
publishes for any device.

The file is the one truth every ingest process (worker, replica) reads: each process
looks at it at most every ``recheck`` seconds (``IOTPIPE_INGEST_KEYS_RECHECK_MS``, 500 ms)
and re-reads it when it was replaced or changed, so ``iotpipe keys create`` and
``revoke`` take effect in every process within that bound, without a stat per request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
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


@dataclass(frozen=True)
class _Snapshot:
    """The key file as last read, and the keys verified against it (remembered: a hash
    per request otherwise). Replaced whole when the file changes, so a key checked
    against an older file is remembered only in that file's snapshot."""

    stamp: tuple[int, int, int] | None  # inode, mtime, size; None: no file
    entries: dict[str, KeyEntry] = field(default_factory=dict)
    verified: dict[str, Principal] = field(default_factory=dict)


class KeyStore:
    def __init__(
        self, path: Path, *, recheck: float = 0.5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.recheck = recheck  # seconds between two looks at the file, at most
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = _Snapshot(stamp=None)
        self._next_check = float("-inf")

    def _load(self) -> dict[str, KeyEntry]:
        """The file's entries now (a stat, and a read when it changed); call with the lock."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            if self._snapshot.stamp is not None:
                self._snapshot = _Snapshot(stamp=None)
            return self._snapshot.entries
        # A replaced file (``_save``, an editor) has a new inode even where its time
        # and size are the same as the old one's.
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp != self._snapshot.stamp:
            try:
                data = json.loads(self.path.read_text())
                entries = {e["key_id"]: KeyEntry(**e) for e in data.get("keys", [])}
            except (ValueError, TypeError, KeyError) as exc:
                raise ConfigError(f"{self.path} is not a valid key file: {exc}") from exc
            self._snapshot = _Snapshot(stamp=stamp, entries=entries)
        return self._snapshot.entries

    def _save(self, entries: dict[str, KeyEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = {"version": 1, "keys": [asdict(e) for e in entries.values()]}
        tmp.write_text(json.dumps(body, indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(self.path)
        self._load()  # this process's own change counts at once

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

        The file is looked at (a stat) by the first request after each ``recheck``
        window, not by every request: a stat cost more than the rest of a remembered
        key's check (docs/integrators/auth.md). A key revoked in the file is refused
        by every request that starts ``recheck`` seconds after the change, or later."""
        now = self._clock()
        if now >= self._next_check:
            with self._lock:
                self._load()
            self._next_check = now + self.recheck
        snapshot = self._snapshot
        known = snapshot.verified.get(presented)
        if known is not None:
            return known
        principal = _check(snapshot.entries, presented)
        if principal is not None and len(snapshot.verified) < _MAX_REMEMBERED:
            snapshot.verified[presented] = principal
        return principal


def _check(entries: dict[str, KeyEntry], presented: str) -> Principal | None:
    match = _KEY.fullmatch(presented.strip())
    if match is None:
        return None
    key_id, secret = match.groups()
    entry = entries.get(key_id)
    expected = entry.sha256 if entry is not None else "0" * 64
    ok = hmac.compare_digest(_digest(secret), expected)
    if entry is None or entry.revoked is not None or not ok:
        return None
    return Principal(key_id=key_id, device_id=entry.device_id, role=entry.role)
