"""A durable outbox for messages to users and agent desks.

A message is written in the same transaction as the change that caused it, then delivered by
a dispatcher with retries and backoff, so an agent's reply survives a Slack outage or a
restart. Several replicas dispatch from one table: on PostgreSQL each claims its batch with
`SELECT ... FOR UPDATE SKIP LOCKED`, so they share the work instead of contending for the same
rows; the claim itself is a conditional UPDATE (SQLite has no row locks), so a message is
never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from handoff.tickets import metadata

log = logging.getLogger(__name__)

outbox_table = Table(
    "handoff_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("destination", String(32), nullable=False),  # a channel name: "web", "slack", ...
    Column("target", JSON, nullable=False),  # where in that channel
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Index("ix_handoff_outbox_due", "status", "next_attempt_at"),
)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # gave up after MAX_ATTEMPTS


MAX_ATTEMPTS = 8
BACKOFF_SECONDS = (1, 2, 5, 15, 30, 60, 120, 300)
# A row stuck in "sending" longer than this (its sender died) is retried.
STALE_SENDING = timedelta(minutes=5)


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    destination: str
    target: Mapping[str, Any]
    payload: Mapping[str, Any]
    attempts: int


Sender = Callable[[OutboxMessage], Awaitable[None]]


class RetryLater(Exception):
    """A sender's answer when the destination asked it to wait (a rate limit's Retry-After)
    or is down for a while (a circuit breaker is open): the message is tried again after
    `seconds`, and the attempt does not count towards MAX_ATTEMPTS, so a ticket system that is
    down for an hour still gets its hand-offs when it is back. `reason` is what is stored and
    logged (never user text)."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = max(0.0, seconds)
        self.reason = reason


class Outbox:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self._senders: dict[str, Sender] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def register(self, destination: str, sender: Sender) -> None:
        self._senders[destination] = sender

    def add(
        self,
        destination: str,
        target: Mapping[str, Any],
        payload: Mapping[str, Any],
        conn: Connection | None = None,
    ) -> None:
        """Queue a message; pass `conn` to make it part of the caller's transaction."""
        now = self._clock()
        values = {
            "created_at": now,
            "destination": destination,
            "target": dict(target),
            "payload": dict(payload),
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
        }
        if conn is None:
            with self.engine.begin() as own:
                own.execute(insert(outbox_table).values(values))
        else:
            conn.execute(insert(outbox_table).values(values))
        self.wake()

    def wake(self) -> None:
        """Let a waiting dispatcher run now rather than at its next poll (thread-safe)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def depth(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(outbox_table)
                    .where(
                        outbox_table.c.status.in_(
                            [OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]
                        )
                    )
                ).scalar()
                or 0
            )

    def _claim_due(self, limit: int = 20) -> list[OutboxMessage]:
        now = self._clock()
        t = outbox_table
        claimed: list[OutboxMessage] = []
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(t)
                .where(
                    ((t.c.status == OutboxStatus.PENDING.value) & (t.c.next_attempt_at <= now))
                    | (
                        (t.c.status == OutboxStatus.SENDING.value)
                        & (t.c.next_attempt_at <= now - STALE_SENDING)
                    )
                )
                .order_by(t.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders nothing
            ).all()
            for r in rows:
                if r.destination not in self._senders:
                    continue
                won = conn.execute(
                    update(t)
                    .where(t.c.id == r.id, t.c.status == r.status, t.c.attempts == r.attempts)
                    .values(
                        status=OutboxStatus.SENDING.value,
                        attempts=r.attempts + 1,
                        next_attempt_at=now,
                    )
                ).rowcount
                if won == 1:
                    claimed.append(
                        OutboxMessage(r.id, r.destination, r.target, r.payload, r.attempts + 1)
                    )
        return claimed

    def _finish(
        self, message: OutboxMessage, error: str | None, later: float | None = None
    ) -> None:
        now = self._clock()
        if error is None:
            values: dict[str, Any] = {"status": OutboxStatus.SENT.value, "last_error": None}
        elif later is not None:  # RetryLater: the sender says when
            values = {
                "status": OutboxStatus.PENDING.value,
                "last_error": error,
                "next_attempt_at": now + timedelta(seconds=later),
            }
        elif message.attempts >= MAX_ATTEMPTS:
            values = {"status": OutboxStatus.FAILED.value, "last_error": error}
        else:
            delay = BACKOFF_SECONDS[min(message.attempts - 1, len(BACKOFF_SECONDS) - 1)]
            values = {
                "status": OutboxStatus.PENDING.value,
                "last_error": error,
                "next_attempt_at": now + timedelta(seconds=delay),
            }
        with self.engine.begin() as conn:
            conn.execute(update(outbox_table).where(outbox_table.c.id == message.id).values(values))

    async def deliver_due(self) -> int:
        """Send everything due now; returns how many were sent."""
        messages = await asyncio.to_thread(self._claim_due)
        sent = 0
        for message in messages:
            try:
                await self._senders[message.destination](message)
            except RetryLater as later:
                await asyncio.to_thread(self._finish, message, later.reason, later.seconds)
            except Exception as exc:  # a channel failing must not stop the others
                log.warning(
                    "outbox delivery %s to %s failed: %s",
                    message.id,
                    message.destination,
                    exc.__class__.__name__,
                )
                await asyncio.to_thread(self._finish, message, exc.__class__.__name__)
            else:
                sent += 1
                await asyncio.to_thread(self._finish, message, None)
        return sent

    async def run(self, poll_seconds: float = 1.0) -> None:
        """Deliver forever: at once when woken, else every `poll_seconds`."""
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                while await self.deliver_due():
                    pass
            except Exception as exc:  # the database may be briefly unavailable; try again
                # class and frames only: messages can quote payloads, which hold user text
                log.error(
                    "outbox dispatcher error: %s\n%s",
                    exc.__class__.__name__,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
            self._wake.clear()
