"""Pacing and retries for messages to Teams.

Teams throttles each conversation (documented: 7 messages in 1 s, 8 in 2 s, 60 in 30 s) and
answers 429, 412, 502 or 504 when a request should be tried again later. The limiter keeps us
under the windows so throttling is the exception; the retry covers what slips through.
Both are per process: replicas each keep their own count.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

RETRY_STATUSES = frozenset({412, 429, 502, 504})
TEAMS_WINDOWS: tuple[tuple[float, int], ...] = ((1.0, 7), (2.0, 8), (30.0, 60))


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter: a random wait up to the exponential bound, so that senders throttled
        together do not all come back together; never sooner than the server's Retry-After."""
        bound = min(self.cap_seconds, self.base_seconds * 2**attempt)
        return max(retry_after or 0.0, random.uniform(0.0, bound))


# (HTTP status, Retry-After seconds) of a failed call, or (None, None) when it was no HTTP error
StatusOf = Callable[[BaseException], tuple[int | None, float | None]]


async def with_retries(
    call: Callable[[], Awaitable[T]], policy: RetryPolicy, status_of: StatusOf
) -> T:
    """Run `call`, again after a pause when Teams asks for a retry. A Retry-After longer than the
    policy's cap is not waited out here: the error goes up and the durable outbox retries later."""
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            status, retry_after = status_of(exc)
            attempt += 1
            if (
                status not in RETRY_STATUSES
                or attempt >= policy.attempts
                or (retry_after or 0.0) > policy.cap_seconds
            ):
                raise
            await asyncio.sleep(policy.delay(attempt - 1, retry_after))


class RateLimiter:
    """Waits until one more message to a conversation fits every (seconds, count) window."""

    def __init__(
        self,
        windows: tuple[tuple[float, int], ...] = TEAMS_WINDOWS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.windows = windows
        self._clock = clock
        self._span = max(span for span, _ in windows)
        self._sent: dict[str, deque[float]] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def wait(self, key: str) -> None:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:  # first come, first served within a conversation
            pause = self._pause(key)  # the lock is ours: nothing else sends here meanwhile
            if pause > 0:
                await asyncio.sleep(pause)
            self._sent.setdefault(key, deque()).append(self._clock())
        if len(self._sent) > 1000:
            self._forget_idle()

    def _pause(self, key: str) -> float:
        sent = self._sent.get(key)
        if not sent:
            return 0.0
        now = self._clock()
        while sent and sent[0] <= now - self._span:
            sent.popleft()
        pause = 0.0
        for span, limit in self.windows:
            recent = [t for t in sent if t > now - span]
            if len(recent) >= limit:
                pause = max(pause, recent[len(recent) - limit] + span - now)
        return pause

    def _forget_idle(self) -> None:
        cutoff = self._clock() - self._span
        for key in [k for k, sent in self._sent.items() if not sent or sent[-1] <= cutoff]:
            del self._sent[key]
