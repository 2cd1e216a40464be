"""Where polling a ticket system stands, shared by every replica: the cursor `changes()` gave
last, when the system was last polled, and a lease, so only one replica polls a system at a
time and all of them together poll it once per interval.

The lease is taken with one conditional UPDATE (free or expired, and the system due), so two
replicas cannot both win. A replica that dies while polling leaves a lease that expires; the
cursor is saved only by the replica that still holds it, so a poll that outlived its lease
changes nothing and its events are read again by the next one (relaying is idempotent by
comment id, see `TicketStore.add_event`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, Engine, String, Table, Text, insert, select, update
from sqlalchemy.exc import IntegrityError

from handoff.tickets import metadata

polls_table = Table(
    "handoff_itsm_polls",
    metadata,
    Column("system", String(32), primary_key=True),
    Column("cursor", Text, nullable=True),  # opaque: what the adapter's changes() returned
    Column("polled_at", DateTime(timezone=True), nullable=True),
    Column("holder", String(128), nullable=True),  # the replica polling now
    Column("lease_until", DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class Lease:
    """The right to poll `system` once, from the cursor stored so far."""

    system: str
    holder: str
    cursor: str | None


class PollStore:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

    def take(self, system: str, holder: str, *, every: timedelta, hold: timedelta) -> Lease | None:
        """The lease on `system` for `hold` at most, or None: another replica holds it, or the
        system was polled less than `every` ago."""
        self._ensure(system)
        now = self._clock()
        t = polls_table
        with self.engine.begin() as conn:
            won = conn.execute(
                update(t)
                .where(
                    t.c.system == system,
                    t.c.lease_until.is_(None) | (t.c.lease_until < now),
                    t.c.polled_at.is_(None) | (t.c.polled_at <= now - every),
                )
                .values(holder=holder, lease_until=now + hold)
            ).rowcount
            if won != 1:
                return None
            cursor = conn.execute(select(t.c.cursor).where(t.c.system == system)).scalar()
        return Lease(system, holder, cursor)

    def finish(self, lease: Lease, cursor: str | None) -> bool:
        """Store the new cursor and free the lease; False (nothing stored) when the lease
        expired and another replica took it meanwhile."""
        return self._end(lease, {"cursor": cursor})

    def release(self, lease: Lease) -> bool:
        """A poll that failed: free the lease and keep the cursor. It still counts as a poll,
        so a failing system is not asked again before the interval is over."""
        return self._end(lease, {})

    def cursor(self, system: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(polls_table.c.cursor).where(polls_table.c.system == system)
            ).scalar()

    def _end(self, lease: Lease, values: dict[str, str | None]) -> bool:
        t = polls_table
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t)
                .where(t.c.system == lease.system, t.c.holder == lease.holder)
                .values(**values, polled_at=self._clock(), holder=None, lease_until=None)
            ).rowcount
        return done == 1

    def _ensure(self, system: str) -> None:
        with self.engine.connect() as conn:
            if conn.execute(
                select(polls_table.c.system).where(polls_table.c.system == system)
            ).first():
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(polls_table).values(system=system))
        except IntegrityError:
            pass  # another replica added it at the same moment
