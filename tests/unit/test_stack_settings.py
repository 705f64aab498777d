"""The local stack's generated settings."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator

import pytest

from iotpipe.stack import settings


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xF8 encodes to "-" in base64url: kafka-storage would read such an id as an option.
    draws: Iterator[bytes] = iter([b"\xf8" + bytes(15), b"\x01" * 16])
    monkeypatch.setattr(secrets, "token_bytes", lambda _n: next(draws))
    cluster_id = settings.new_cluster_id()
    assert cluster_id == base64.urlsafe_b64encode(b"\x01" * 16).decode().rstrip("=")
    assert len(cluster_id) == 22
