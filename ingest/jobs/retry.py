"""Retries with exponential backoff, the clock passed in so tests need not wait."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ingest.jobs.errors import SourceError

__all__ = ["Backoff", "Sleep", "retrying"]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    """``attempts`` tries in all, waiting base, base*factor, ... (at most ``cap``) between.

    A server's ``Retry-After`` is honoured (up to ``cap``) when longer than the backoff.
    No jitter: one job talks to one source sequentially, so there is no herd to spread.
    """

    attempts: int = 5
    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wait = min(self.cap, self.base * self.factor ** (attempt - 1))
        if retry_after is not None:
            wait = max(wait, min(self.cap, retry_after))
        return wait


async def retrying(
    call: Callable[[], Awaitable[T]],
    backoff: Backoff,
    sleep: Sleep,
    on_retry: Callable[[SourceError, float], None] | None = None,
) -> T:
    """``call()``, again after a pause while it raises a retryable ``SourceError``; the
    last error (or a non-retryable one) is raised, its message saying how many tries."""
    attempt = 1
    while True:
        try:
            return await call()
        except SourceError as exc:
            if not exc.retryable or attempt >= backoff.attempts:
                if attempt > 1:
                    exc.detail = f"{exc.detail} (after {attempt} attempts)"
                    exc.args = (exc.detail,)
                raise
            wait = backoff.delay(attempt, exc.retry_after)
            if on_retry is not None:
                on_retry(exc, wait)
            await sleep(wait)
            attempt += 1
