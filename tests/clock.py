"""The day the tests run on. Fixed, so no result depends on the real date; moved by
`pytest --clock-shift-days=N` (or DESKBOT_TEST_CLOCK_SHIFT_DAYS=N) to check that nothing breaks
on another day: the demo articles are loaded relative to it, as `deskbot demo` does with the
real date."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta

BASE = date(2026, 11, 23)


class TestClock:
    __test__ = False  # not a test class

    def __init__(self, shift_days: int = 0) -> None:
        self.shift_days = shift_days

    def today(self) -> date:
        return BASE + timedelta(days=self.shift_days)

    def now(self) -> datetime:
        """Noon UTC on `today`."""
        return datetime.combine(self.today(), time(12, 0), tzinfo=UTC)


CLOCK = TestClock(int(os.environ.get("DESKBOT_TEST_CLOCK_SHIFT_DAYS", "0") or 0))


class ManualClock:
    """A wall clock that moves only when told: for the outbox's backoff and leases."""

    def __init__(self, start: datetime | None = None) -> None:
        self.at = start or CLOCK.now()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
