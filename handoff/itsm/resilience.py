"""Retry timing and the circuit breaker, as small pure pieces with an injectable clock.

Waits use exponential backoff with full jitter (a random wait between 0 and the exponential
cap), so many replicas that failed together do not retry together. A rate limit says how
long to wait (`Retry-After` in seconds or as an HTTP date; ServiceNow's `X-RateLimit-Reset`
as epoch seconds) and that wait is honoured rather than guessed. Retry libraries were
considered: the waits here depend on those headers and the tests need an injected clock and
sleep, which would leave little of a library but its configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum


@dataclass(frozen=True)
class Timing:
    """The clocks and sleep the client uses; tests pass their own."""

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time  # epoch seconds, for X-RateLimit-Reset
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    random: Callable[[], float] = field(default=random.random)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries. `timeout` bounds each attempt; a rate limit asking for more
    than `longest_wait` seconds is not waited for in-line but raised (the outbox retries)."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    timeout: float = 10.0
    longest_wait: float = 60.0
    breaker_failures: int = 5  # consecutive failures that open the circuit
    breaker_reset: float = 30.0  # seconds the circuit stays open before one trial call


def backoff(attempt: int, policy: RetryPolicy, rnd: Callable[[], float]) -> float:
    """Full jitter: uniform in [0, min(max_delay, base_delay * 2**attempt)]."""
    return rnd() * min(policy.max_delay, policy.base_delay * 2.0**attempt)


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asked us to wait, or None when it did not say.

    `Retry-After` is either seconds or an HTTP date; `X-RateLimit-Reset` (ServiceNow) is the
    epoch second at which the window resets. The larger of the two wins.
    """
    waits: list[float] = []
    value = headers.get("Retry-After", "").strip()
    if value:
        try:
            waits.append(float(value))
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                waits.append(parsedate_to_datetime(value).timestamp() - now)
    reset = headers.get("X-RateLimit-Reset", "").strip()
    if reset:
        with contextlib.suppress(ValueError):
            waits.append(float(reset) - now)
    return max(0.0, *waits) if waits else None


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Stops calling a system that keeps failing, then lets one trial call through.

    `failures` consecutive failures (5xx, timeouts, no connection; not 4xx, not 429) open it
    for `reset_after` seconds: calls fail at once instead of waiting on a dead system. Then
    one call is let through; its success closes the circuit, its failure opens it again.
    """

    def __init__(
        self, failures: int, reset_after: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.reset_after = reset_after
        self._clock = clock
        self._count = 0
        self._opened_at = 0.0
        self._trial = False
        self.state = BreakerState.CLOSED

    def wait(self) -> float:
        """0 when a call may go now; otherwise the seconds until it may (the call fails)."""
        if self.state is BreakerState.CLOSED:
            return 0.0
        left = self._opened_at + self.reset_after - self._clock()
        if self.state is BreakerState.OPEN and left <= 0:
            self.state = BreakerState.HALF_OPEN
            self._trial = False
        if self.state is BreakerState.HALF_OPEN:
            if self._trial:  # one trial at a time; the rest fail fast until it answers
                return max(left, 1.0)
            self._trial = True
            return 0.0
        return left

    def succeeded(self) -> None:
        self._count = 0
        self._trial = False
        self.state = BreakerState.CLOSED

    def failed(self) -> None:
        self._count += 1
        if self.state is BreakerState.HALF_OPEN or self._count >= self.failures:
            self.state = BreakerState.OPEN
            self._opened_at = self._clock()
            self._trial = False
