"""The inbox: every event deskbot acknowledges (a Slack event, a Teams activity, a web chat
post) is written here before the acknowledgement, then processed from here.

A row is held by one process at a time through a lease (owner and expiry), renewed while that
process lives. If it dies (kill -9, a lost node), the lease lapses and another replica, or the
restarted one, takes the row and runs the turn. A row is done only in the transaction that
commits its turn (`finish`), so a delivery counts as handled exactly when its turn is saved;
a retried delivery of a row that exists is never processed twice.

The text is cleaned (bot.dialogue.cleaning) and redacted before it is written: nothing
unredacted is stored, and nothing here can fail to be saved for its characters.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from bot.db import aware
from bot.dialogue.cleaning import clean
from bot.dialogue.conversations import metadata, utc_now
from bot.dialogue.faults import transient
from bot.dialogue.messages import Identity, IncomingMessage, Reply
from bot.dialogue.spool import replay, spool_entry
from bot.failures import log_failure
from bot.redaction import redact

log = logging.getLogger(__name__)

# pending: its turn is not saved yet; answered: the turn is saved, its replies not yet sent;
# done: replies sent (or nothing to send); rejected: can never be processed
PENDING, ANSWERED, DONE, REJECTED = "pending", "answered", "done", "rejected"
OPEN = (PENDING, ANSWERED)  # rows a process holds, and takes over when the lease lapses
MAX_ATTEMPTS = 8  # a row that fails this often, not for the database being away, is rejected
T = TypeVar("T")
KEEP_DONE = timedelta(days=7)  # a delivery retried later than this would be processed again

inbox_table = Table(
    "bot_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    # the channel's delivery id (Slack event id, Teams activity) or one of our own
    Column("key", String(200), nullable=False),
    Column("message", JSON, nullable=False),  # cleaned and redacted, see `_encode`
    Column("replies", JSON, nullable=True),  # the saved turn's replies, until they are sent
    Column("state", String(16), nullable=False),
    Column("owner", String(64), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("channel", "key", name="uq_bot_inbox_key"),
    Index("ix_bot_inbox_due", "state", "lease_until"),
)


class AlreadyHandled(Exception):
    """The row was finished by another process (or taken over after this one's lease lapsed):
    the caller's transaction must roll back."""


class Kept(Exception):
    """The turn could not run now (the database is unreachable or stalled); the message is
    kept, in the inbox or the spool, and will be answered once the database is back."""


@dataclass(frozen=True)
class Entry:
    """One accepted event, held by this process."""

    id: int
    key: str
    message: IncomingMessage  # text cleaned and redacted
    kinds: frozenset[str]  # what redaction removed
    extra: Mapping[str, Any] = field(default_factory=dict)  # the channel's own, e.g. a preface
    attempts: int = 1
    replies: tuple[Reply, ...] | None = None  # the turn is saved: only these are left to send


@dataclass(frozen=True)
class Accepted:
    """What `accept` did: `entry` is the row to process now (None: a duplicate that another
    process holds or finished)."""

    entry: Entry | None
    duplicate: bool = False


def prepare(message: IncomingMessage) -> tuple[IncomingMessage, frozenset[str]]:
    """The message as it may be stored: cleaned, then redacted."""
    redaction = redact(clean(message.text))
    return replace(message, text=redaction.text), redaction.kinds


def _encode(
    message: IncomingMessage, kinds: frozenset[str], extra: Mapping[str, Any]
) -> dict[str, Any]:
    user = message.user
    return {
        "conversation": message.conversation,
        "user": {"id": user.user_id, "email": user.email, "name": user.name},
        "text": message.text,
        "action": message.action,
        "message_id": message.message_id,
        "reference": dict(message.reference),
        "kinds": sorted(kinds),
        "extra": dict(extra),
    }


def _entry(row: Row[Any]) -> Entry:
    m = row._mapping
    data = m["message"]
    user = data["user"]
    message = IncomingMessage(
        m["channel"],
        data["conversation"],
        Identity(user["id"], user.get("email"), user.get("name")),
        data.get("text") or "",
        data.get("action"),
        data.get("message_id"),
        data.get("reference") or {},
    )
    replies = m["replies"]
    return Entry(
        m["id"],
        m["key"],
        message,
        frozenset(data.get("kinds") or ()),
        data.get("extra") or {},
        m["attempts"],
        None if m["state"] != ANSWERED else tuple(Reply.from_dict(r) for r in replies or ()),
    )


Handler = Callable[[Entry], Awaitable[None]]


class Inbox:
    def __init__(
        self,
        engine: Engine,
        spool_file: Path,
        *,
        lease_seconds: float = 30.0,
        timeout: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.spool_file = spool_file
        self.lease = timedelta(seconds=lease_seconds)
        self.timeout = timeout  # how long an event waits for the database before the spool
        self.now = clock
        self.owner = owner or uuid.uuid4().hex  # this process, for as long as it runs
        self._handlers: dict[str, Handler] = {}
        self._running: set[asyncio.Future[Any]] = set()
        self._held: set[int] = set()  # rows being worked on here, whose leases `run` renews
        self._polled: set[str] = set()
        self.accepting_work = True  # False while draining: no rows are taken over

    # -- writing and holding rows ---------------------------------------------------------------

    def accept(
        self,
        message: IncomingMessage,
        extra: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        claim: bool = True,
    ) -> Accepted:
        """Write the event (cleaned and redacted) and, with `claim`, hold it for this process.
        A delivery id seen before is a duplicate, unless its holder's lease lapsed: then this
        process takes it over (a redelivery after the first receiver died)."""
        stored, kinds = prepare(message)
        key = key or message.message_id or uuid.uuid4().hex
        now = self.now()
        values = {
            "channel": message.channel,
            "key": key,
            "message": _encode(stored, kinds, extra or {}),
            "state": PENDING,
            "owner": self.owner if claim else None,
            "lease_until": now + self.lease if claim else now,
            "attempts": 1 if claim else 0,
            "created_at": now,
        }
        try:
            with self.engine.begin() as conn:
                inserted = conn.execute(insert(inbox_table).values(values)).inserted_primary_key
                assert inserted is not None
                row_id = inserted[0]
        except IntegrityError:
            return Accepted(self._take_over(message.channel, key) if claim else None, True)
        entry = Entry(int(row_id), key, stored, kinds, extra or {}, 1)
        return Accepted(entry if claim else None)

    def restore(self, row: Mapping[str, Any]) -> bool:
        """Put a spooled event in the inbox, free for any process to take; False when its key
        is there already (replayed before, or a late insert of the same event)."""
        channel = str(row["channel"])
        if "message" not in row:  # a line from before the inbox: a message with its text
            message = IncomingMessage(
                channel,
                str(row["conversation"]),
                Identity(f"spooled:{row['conversation']}"),
                str(row.get("text") or ""),
            )
            digest = hashlib.sha256(json.dumps(dict(row), sort_keys=True).encode()).hexdigest()
            accepted = self.accept(message, key=f"spool:{digest[:40]}", claim=False)
            return not accepted.duplicate
        data = dict(row["message"])
        data["text"] = clean(str(data.get("text") or ""))  # lines written before cleaning
        now = self.now()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(inbox_table).values(
                        channel=channel,
                        key=str(row["key"]),
                        message=data,
                        state=PENDING,
                        owner=None,
                        lease_until=now,
                        attempts=0,
                        created_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    def replay_spool(self) -> int:
        """Move what the spool kept into the inbox; how many were new."""
        stored, _ = replay(self.spool_file, self.restore)
        return stored

    def _take_over(self, channel: str, key: str) -> Entry | None:
        t = inbox_table
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.channel == channel, t.c.key == key)).first()
        if row is None or row.state not in OPEN or aware(row.lease_until) > self.now():
            return None
        return self._claim(row)

    def _claim(self, row: Row[Any]) -> Entry | None:
        t = inbox_table
        now = self.now()
        with self.engine.begin() as conn:
            won = conn.execute(
                update(t)
                .where(
                    t.c.id == row.id,
                    t.c.state == row.state,
                    t.c.lease_until <= now,  # not renewed meanwhile
                    t.c.attempts == row.attempts,  # nor taken by another process
                )
                .values(owner=self.owner, lease_until=now + self.lease, attempts=t.c.attempts + 1)
            ).rowcount
        if won != 1:
            return None  # another process took it first
        return replace(_entry(row), attempts=row.attempts + 1)

    def claim_due(self, limit: int = 20) -> list[Entry]:
        """Take over rows whose lease lapsed (their process died or handed them back)."""
        t = inbox_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t)
                .where(t.c.state.in_(OPEN), t.c.lease_until <= self.now())
                .order_by(t.c.id)
                .limit(limit)
            ).all()
        return [e for row in rows if row.channel in self._handlers and (e := self._claim(row))]

    def finish(self, conn: Connection, entry: Entry, replies: Sequence[Reply] = ()) -> None:
        """Mark the row handled as part of the transaction that saves its turn, with the
        replies still to send (none for a channel whose clients read the transcript): if this
        process dies before sending them, the process that takes the row over sends them."""
        t = inbox_table
        to_send = (
            [r.to_dict() for r in replies] if entry.message.channel not in self._polled else []
        )
        values: dict[str, Any] = {"state": ANSWERED, "replies": to_send, "error": None}
        if not to_send:
            values.update(state=DONE, owner=None, done_at=self.now())
        done = conn.execute(
            update(t)
            .where(t.c.id == entry.id, t.c.state == PENDING, t.c.owner == self.owner)
            .values(values)
        ).rowcount
        if done != 1:
            raise AlreadyHandled(entry.key)

    def sent(self, entry: Entry) -> None:
        """The turn's replies left (or went to the outbox): the row is done."""
        t = inbox_table
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.id == entry.id, t.c.state == ANSWERED)
                .values(state=DONE, owner=None, done_at=self.now(), replies=None)
            )

    def reject(self, entry: Entry, reason: str) -> None:
        """A row that can never be processed: kept for the record, never retried."""
        t = inbox_table
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.id == entry.id, t.c.state == PENDING)
                .values(state=REJECTED, owner=None, done_at=self.now(), error=reason[:200])
            )

    def hand_back(self, entry: Entry | None = None) -> int:
        """Release one row (or every row this process holds) for any process to take now."""
        t = inbox_table
        where = [t.c.state.in_(OPEN), t.c.owner == self.owner]
        if entry is not None:
            where.append(t.c.id == entry.id)
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(t).where(*where).values(owner=None, lease_until=self.now())
                ).rowcount
            )

    def renew(self) -> int:
        """Extend the leases of the rows this process is working on."""
        held = list(self._held)
        if not held:
            return 0
        t = inbox_table
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(t)
                    .where(t.c.state.in_(OPEN), t.c.owner == self.owner, t.c.id.in_(held))
                    .values(lease_until=self.now() + self.lease)
                ).rowcount
            )

    def prune(self) -> int:
        t = inbox_table
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    delete(t).where(t.c.state.not_in(OPEN), t.c.done_at < self.now() - KEEP_DONE)
                ).rowcount
            )

    def pending(self) -> int:
        """Rows whose turn is not saved or whose replies are not sent yet."""
        t = inbox_table
        with self.engine.connect() as conn:
            found = conn.execute(select(func.count()).where(t.c.state.in_(OPEN))).scalar()
            return int(found or 0)

    # -- processing -------------------------------------------------------------------------------

    def register(self, channel: str, handler: Handler, *, polled: bool = False) -> None:
        """How a channel processes a row it did not process when it arrived (a row taken over,
        or replayed from the spool): run the turn, or only send the saved replies when the
        entry has them, and send its own way. `polled`: its clients read the transcript, there
        is nothing to send."""
        self._handlers[channel] = handler
        if polled:
            self._polled.add(channel)

    async def receive(
        self, message: IncomingMessage, extra: Mapping[str, Any] | None = None
    ) -> Accepted | None:
        """`accept` within the database timeout, before the channel acknowledges the event.
        None when the database could not take it: the message is then in the spool (under the
        same key, so a late insert and the replay never make two), and it is answered once the
        database is back."""
        key = message.message_id or uuid.uuid4().hex
        task = asyncio.ensure_future(asyncio.to_thread(self.accept, message, extra, key=key))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except Exception as exc:
            log.warning("inbox: kept in the spool (%s)", exc.__class__.__name__)
            stored, kinds = prepare(message)
            spool_entry(self.spool_file, message.channel, key, _encode(stored, kinds, extra or {}))
            task.add_done_callback(self._late)
            return None

    def _late(self, task: asyncio.Future[Accepted]) -> None:
        """An accept that finished after its caller gave up: process what it took."""
        if task.cancelled() or task.exception() is not None:
            return
        entry = task.result().entry
        if entry is not None and entry.message.channel in self._handlers:
            self.spawn(entry)

    async def process(
        self, entry: Entry, work: Awaitable[T] | None = None, within: float | None = None
    ) -> T | None:
        """Run `work` (default: the channel's handler) for a held row, tracked so that a drain
        waits for it; its result, or None when the row could not be finished now (it stays in
        the inbox for a later attempt) or `within` seconds passed (it goes on meanwhile)."""
        task: asyncio.Future[T | None] = asyncio.ensure_future(self._run(entry, work))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        try:
            return await asyncio.wait_for(asyncio.shield(task), within)
        except TimeoutError:
            return None

    def spawn(self, entry: Entry, work: Awaitable[Any] | None = None) -> None:
        """`process` in the background (after an acknowledgement)."""
        task = asyncio.ensure_future(self._run(entry, work))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def track(self, work: Awaitable[Any]) -> None:
        """Other work that a drain should wait for (e.g. telling a user their message was
        kept); its failure is logged."""

        async def run() -> None:
            try:
                await work
            except Exception as exc:
                log.warning("inbox: %s", exc.__class__.__name__)

        task = asyncio.ensure_future(run())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, entry: Entry, work: Awaitable[T] | None) -> T | None:
        self._held.add(entry.id)
        try:
            if work is None:
                await self._handlers[entry.message.channel](entry)
                return None
            return await work
        except Kept:
            return None  # the lease lapses and the row is tried again
        except Exception as exc:
            log_failure(log, f"inbox row {entry.id} ({entry.message.channel})", exc)
            try:
                if entry.attempts >= MAX_ATTEMPTS and not transient(exc):
                    await asyncio.to_thread(self.reject, entry, exc.__class__.__name__)
                else:
                    await asyncio.to_thread(self.hand_back, entry)
            except Exception as again:  # the lease lapses on its own
                log.warning("inbox: row %s left to lapse: %s", entry.id, again.__class__.__name__)
            return None
        finally:
            self._held.discard(entry.id)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def idle(self, within: float) -> bool:
        """Wait up to `within` seconds for every tracked row to finish; True when they did."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self._running:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.wait(set(self._running), timeout=left)
        return True

    async def cancel(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def run(self, every: float | None = None) -> None:
        """While the server runs: renew this process's leases, replay the spool when the
        database is back, take over lapsed rows, forget old finished rows."""
        every = every or max(0.5, self.lease.total_seconds() / 3)
        rounds = 0
        while True:
            try:
                await asyncio.to_thread(self.renew)
                await asyncio.to_thread(self.replay_spool)
                if self.accepting_work:
                    for entry in await asyncio.to_thread(self.claim_due):
                        self.spawn(entry)
                if rounds % 1000 == 0:
                    await asyncio.to_thread(self.prune)
            except Exception as exc:  # the database may be away; the next round tries again
                log.warning("inbox: %s", exc.__class__.__name__)
            rounds += 1
            await asyncio.sleep(every)
