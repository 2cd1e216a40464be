"""Pacing shared by every replica: the next free slot of each key (a Slack channel, say) lives
in the database, so N replicas together keep to a platform's per-channel rate instead of N
times it.

The rule is a generic cell rate, as in one process: each key has a time from which its next
send is free; a send takes that slot (one upsert, atomic under concurrency) and waits for it,
less the allowance of a short burst. On PostgreSQL the database's clock decides, so replicas
whose clocks disagree still agree on the slots. If the database cannot be reached the pace is
kept in this process alone until it can: sending goes on, and the outbox retries anything the
platform refuses.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy import Column, Engine, Float, String, Table, text
from sqlalchemy.exc import DBAPIError

from handoff.tickets import metadata

log = logging.getLogger(__name__)

pacing_table = Table(
    "handoff_pacing",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("free_at", Float, nullable=False),  # seconds since the epoch, the database's clock
)

# Keys quiet for this long are deleted now and then (a Slack DM channel per employee adds up).
FORGET_AFTER = 3600.0
FORGET_EVERY = 1000  # reservations

_RESERVE = {
    "postgresql": """
        INSERT INTO handoff_pacing AS p (key, free_at)
        VALUES (:key, EXTRACT(EPOCH FROM now())::float8 + :interval)
        ON CONFLICT (key) DO UPDATE
        SET free_at = GREATEST(p.free_at, EXTRACT(EPOCH FROM now())::float8) + :interval
        RETURNING p.free_at - :interval - :allowance - EXTRACT(EPOCH FROM now())::float8
    """,
    "sqlite": """
        INSERT INTO handoff_pacing (key, free_at) VALUES (:key, :now + :interval)
        ON CONFLICT (key) DO UPDATE SET free_at = max(free_at, :now) + :interval
        RETURNING free_at - :interval - :allowance - :now
    """,
}
_FORGET = {
    "postgresql": "DELETE FROM handoff_pacing WHERE free_at < EXTRACT(EPOCH FROM now()) - :age",
    "sqlite": "DELETE FROM handoff_pacing WHERE free_at < :now - :age",
}


class SharedPacer:
    """At most `rate` sends a second per key across every process on the database, after a
    burst of `burst`. `wait(key)` has the same shape as a one-process pacer's."""

    def __init__(
        self,
        engine: Engine,
        rate: float = 1.0,
        burst: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.interval = 1.0 / rate
        self.allowance = (burst - 1) * self.interval
        self.clock = clock
        self._reserve = text(_RESERVE[engine.dialect.name])
        self._forget = text(_FORGET[engine.dialect.name])
        self._count = 0
        self._local: dict[str, float] = {}  # while the database is unreachable
        self._offline = False

    def reserve(self, key: str) -> float:
        """Take the key's next slot; returns how long to wait for it."""
        now = self.clock()
        values = {"key": key, "interval": self.interval, "allowance": self.allowance, "now": now}
        try:
            with self.engine.begin() as conn:
                delay = float(conn.execute(self._reserve, values).scalar_one())
                self._count += 1
                if self._count % FORGET_EVERY == 0:
                    conn.execute(self._forget, {"now": now, "age": FORGET_AFTER})
        except DBAPIError as exc:
            if not self._offline:
                log.warning("pacing in this process only: %s", exc.__class__.__name__)
                self._offline = True
            return self._reserve_here(key, now)
        self._offline = False
        return max(0.0, delay)

    def _reserve_here(self, key: str, now: float) -> float:
        free_at = max(self._local.get(key, now), now)
        self._local[key] = free_at + self.interval
        if len(self._local) > 10_000:
            self._local = {k: t for k, t in self._local.items() if t > now}
        return max(0.0, free_at - self.allowance - now)

    async def wait(self, key: str) -> None:
        delay = await asyncio.to_thread(self.reserve, key)
        if delay > 0:
            await asyncio.sleep(delay)
