"""Tickets: what a person on the service desk receives when the bot hands a conversation over.

A ticket's life: new -> claimed (by exactly one agent) -> resolved, or handed back to the
assistant (waiting) and possibly claimed again. Claims are a single conditional UPDATE, so
two agents pressing Claim at once (or on two replicas) cannot both win.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

metadata = MetaData()

NUMBER_OFFSET = 2_000_000  # REQ2000001 onwards; lower numbers are free for imported history


class Status(StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    WAITING = "waiting"  # handed back to the assistant, still open
    RESOLVED = "resolved"


OPEN = (Status.NEW, Status.CLAIMED, Status.WAITING)


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


tickets_table = Table(
    "handoff_tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("category", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("requester", String(320), nullable=False),
    Column("requester_name", Text, nullable=True),
    Column("channel", String(32), nullable=False),
    Column("conversation_id", String(64), nullable=True),
    Column("facts", JSON, nullable=False),
    Column("questions", JSON, nullable=False),
    Column("offered", JSON, nullable=False),
    Column("feedback", JSON, nullable=False),
    Column("transcript", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("resolved_by", String(200), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", Text, nullable=True),
    # where the ticket lives in the desk's ITSM (None with the built-in system); the system's
    # name alone, without an id, marks a ticket whose creation there is still pending
    Column("external_system", String(32), nullable=True),
    Column("external_id", String(128), nullable=True),
    Column("external_number", String(64), nullable=True),
    Column("external_url", Text, nullable=True),
    Column("external_requester", String(128), nullable=True),
    Index("ix_handoff_tickets_requester", "requester"),
    Index("ix_handoff_tickets_status", "status"),
    Index("ix_handoff_tickets_conversation", "conversation_id"),
    Index("ix_handoff_tickets_external", "external_system", "status"),
)

events_table = Table(
    "handoff_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("handoff_tickets.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(200), nullable=True),
    Column("body", Text, nullable=False),
    # the ticket system's id for what caused the event (an agent's comment in the ITSM): at
    # most one event per id and ticket, so a comment read twice is relayed once
    Column("source_id", String(200), nullable=True),
    Index("ix_handoff_events_ticket", "ticket_id"),
    Index("ux_handoff_events_source", "ticket_id", "source_id", unique=True),
)


class EventKind(StrEnum):
    CREATED = "created"
    USER_MESSAGE = "user_message"
    AGENT_MESSAGE = "agent_message"
    NOTE = "note"  # internal, never shown to the user
    CLAIMED = "claimed"
    HANDED_BACK = "handed_back"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class NewTicket:
    reason: str
    priority: str
    category: str
    title: str
    summary: str
    requester: str
    channel: str
    conversation_id: str | None = None
    requester_name: str | None = None
    facts: Mapping[str, Sequence[str]] = field(default_factory=dict)
    questions: Sequence[str] = ()
    offered: Sequence[tuple[str, float | None]] = ()  # (article id, confidence)
    feedback: Sequence[tuple[str, bool]] = ()
    transcript: Sequence[Mapping[str, Any]] = ()  # redacted: [{"at", "role", "text"}]
    status: Status = Status.NEW
    number: str | None = None  # only for imported or demo history


@dataclass(frozen=True)
class Ticket:
    id: int
    number: str
    status: Status
    reason: str
    priority: str
    category: str
    title: str
    summary: str
    requester: str
    requester_name: str | None
    channel: str
    conversation_id: str | None
    facts: Mapping[str, Sequence[str]]
    questions: tuple[str, ...]
    offered: tuple[tuple[str, float | None], ...]
    feedback: tuple[tuple[str, bool], ...]
    transcript: tuple[Mapping[str, Any], ...]
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    external_system: str | None = None  # see tickets_table
    external_id: str | None = None
    external_number: str | None = None
    external_url: str | None = None
    external_requester: str | None = None

    @property
    def open(self) -> bool:
        return self.status in OPEN

    @property
    def public_number(self) -> str:
        """The number the employee and the desk know it by: the ITSM's once it is there."""
        return self.external_number or self.number

    @property
    def pending(self) -> bool:
        """Meant for a ticket system that has not taken it yet (it was down or refused)."""
        return bool(self.external_system) and not self.external_id


@dataclass(frozen=True)
class Event:
    id: int
    ticket_id: int
    at: datetime
    kind: EventKind
    actor: str | None
    body: str


@dataclass(frozen=True)
class RequestView:
    """A request as its requester may see it."""

    number: str
    title: str
    status: str
    updated_at: datetime
    assignee: str | None = None


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _ticket(row: Row[Any]) -> Ticket:
    m = row._mapping
    return Ticket(
        id=m["id"],
        number=m["number"],
        status=Status(m["status"]),
        reason=m["reason"],
        priority=m["priority"],
        category=m["category"],
        title=m["title"],
        summary=m["summary"],
        requester=m["requester"],
        requester_name=m["requester_name"],
        channel=m["channel"],
        conversation_id=m["conversation_id"],
        facts=m["facts"] or {},
        questions=tuple(m["questions"] or ()),
        offered=tuple((a, c) for a, c in m["offered"] or ()),
        feedback=tuple((a, bool(h)) for a, h in m["feedback"] or ()),
        transcript=tuple(m["transcript"] or ()),
        created_at=_aware(m["created_at"]),  # type: ignore[arg-type]
        updated_at=_aware(m["updated_at"]),  # type: ignore[arg-type]
        claimed_by=m["claimed_by"],
        claimed_at=_aware(m["claimed_at"]),
        resolved_by=m["resolved_by"],
        resolved_at=_aware(m["resolved_at"]),
        resolution=m["resolution"],
        external_system=m["external_system"],
        external_id=m["external_id"],
        external_number=m["external_number"],
        external_url=m["external_url"],
        external_requester=m["external_requester"],
    )


def _event(row: Row[Any]) -> Event:
    m = row._mapping
    at = _aware(m["at"])
    assert at is not None
    return Event(m["id"], m["ticket_id"], at, EventKind(m["kind"]), m["actor"], m["body"])


@dataclass(frozen=True)
class QueueFilter:
    statuses: tuple[Status, ...] = OPEN
    priority: str | None = None
    reason: str | None = None
    channel: str | None = None
    claimed_by: str | None = None


class TicketStore:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._clock()

    # -- writing -------------------------------------------------------------------------

    def create(self, new: NewTicket, conn: Connection | None = None) -> Ticket:
        """Store a ticket and its creation event; the number comes from the row id."""
        if conn is None:
            with self.engine.begin() as own:
                return self.create(new, own)
        now = self.now()
        values = {
            # a unique placeholder until the id-based number is known (fits the column)
            "number": new.number or f"tmp-{uuid.uuid4().hex[:24]}",
            "status": new.status.value,
            "reason": new.reason,
            "priority": new.priority,
            "category": new.category,
            "title": new.title,
            "summary": new.summary,
            "requester": new.requester,
            "requester_name": new.requester_name,
            "channel": new.channel,
            "conversation_id": new.conversation_id,
            "facts": {k: list(v) for k, v in new.facts.items()},
            "questions": list(new.questions),
            "offered": [list(o) for o in new.offered],
            "feedback": [list(f) for f in new.feedback],
            "transcript": [dict(t) for t in new.transcript],
            "created_at": now,
            "updated_at": now,
        }
        ticket_id = conn.execute(insert(tickets_table).values(values)).inserted_primary_key[0]  # type: ignore[index]
        if new.number is None:
            conn.execute(
                update(tickets_table)
                .where(tickets_table.c.id == ticket_id)
                .values(number=f"REQ{NUMBER_OFFSET + ticket_id:07d}")
            )
        conn.execute(
            insert(events_table).values(
                ticket_id=ticket_id,
                at=now,
                kind=EventKind.CREATED.value,
                actor=None,
                body=new.reason,
            )
        )
        row = conn.execute(select(tickets_table).where(tickets_table.c.id == ticket_id)).one()
        return _ticket(row)

    def claim(self, ticket_id: int, agent: str) -> bool:
        """Claim an open, unclaimed ticket. Exactly one concurrent caller gets True."""
        now = self.now()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(tickets_table)
                .where(
                    tickets_table.c.id == ticket_id,
                    tickets_table.c.status.in_([Status.NEW.value, Status.WAITING.value]),
                )
                .values(
                    status=Status.CLAIMED.value, claimed_by=agent, claimed_at=now, updated_at=now
                )
            )
            if result.rowcount != 1:
                return False
            self._event(conn, ticket_id, EventKind.CLAIMED, agent, "", now)
            return True

    def hand_back(self, ticket_id: int, agent: str) -> bool:
        """The agent returns the user to the assistant; the ticket stays open."""
        return self._transition(ticket_id, agent, Status.WAITING, EventKind.HANDED_BACK, "")

    def resolve(self, ticket_id: int, agent: str, resolution: str) -> bool:
        now = self.now()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(tickets_table)
                .where(
                    tickets_table.c.id == ticket_id, tickets_table.c.status != Status.RESOLVED.value
                )
                .values(
                    status=Status.RESOLVED.value,
                    resolved_by=agent,
                    resolved_at=now,
                    resolution=resolution,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return False
            self._event(conn, ticket_id, EventKind.RESOLVED, agent, resolution, now)
            return True

    def add_event(
        self,
        ticket_id: int,
        kind: EventKind,
        actor: str | None,
        body: str,
        conn: Connection | None = None,
        *,
        source: str | None = None,
    ) -> Event:
        """Record an event; pass `conn` to make it part of the caller's transaction. With a
        `source` id already recorded for this ticket it raises `sqlalchemy.exc.IntegrityError`
        (see `has_source`)."""
        if conn is None:
            with self.engine.begin() as own:
                return self.add_event(ticket_id, kind, actor, body, own, source=source)
        now = self.now()
        event_id = self._event(conn, ticket_id, kind, actor, body, now, source)
        conn.execute(
            update(tickets_table).where(tickets_table.c.id == ticket_id).values(updated_at=now)
        )
        return Event(event_id, ticket_id, now, kind, actor, body)

    @staticmethod
    def has_source(conn: Connection, ticket_id: int, source: str) -> bool:
        """Whether an event of this ticket came from `source` already."""
        e = events_table
        found = conn.execute(
            select(e.c.id).where(e.c.ticket_id == ticket_id, e.c.source_id == source).limit(1)
        ).first()
        return found is not None

    # -- the ticket in the desk's ITSM ---------------------------------------------------

    def mark_pending(self, ticket_id: int, system: str) -> bool:
        """Note that `system` did not take the ticket yet; True only for the first caller
        (once per ticket, whichever replica tries), so the employee is told once."""
        t = tickets_table
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t)
                .where(t.c.id == ticket_id, t.c.external_system.is_(None))
                .values(external_system=system)
            )
            return result.rowcount == 1

    def link(
        self, ticket_id: int, system: str, external_id: str, number: str, url: str, requester: str
    ) -> bool:
        """Keep where the ticket now lives in `system`; False when it was linked already."""
        t = tickets_table
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t)
                .where(t.c.id == ticket_id, t.c.external_id.is_(None))
                .values(
                    external_system=system,
                    external_id=external_id,
                    external_number=number,
                    external_url=url or None,
                    external_requester=requester or None,
                    updated_at=self.now(),
                )
            )
            return result.rowcount == 1

    def linked(self, system: str) -> list[Ticket]:
        """Open tickets that live in `system`: the ones whose agents' answers are relayed."""
        t = tickets_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t)
                .where(
                    t.c.external_system == system,
                    t.c.status.in_([s.value for s in OPEN]),
                    t.c.external_id.is_not(None),
                )
                .order_by(t.c.id)
            )
            return [_ticket(r) for r in rows]

    def _transition(
        self, ticket_id: int, agent: str, to: Status, kind: EventKind, body: str
    ) -> bool:
        now = self.now()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(tickets_table)
                .where(
                    tickets_table.c.id == ticket_id, tickets_table.c.status == Status.CLAIMED.value
                )
                .values(status=to.value, claimed_by=None, updated_at=now)
            )
            if result.rowcount != 1:
                return False
            self._event(conn, ticket_id, kind, agent, body, now)
            return True

    @staticmethod
    def _event(
        conn: Connection,
        ticket_id: int,
        kind: EventKind,
        actor: str | None,
        body: str,
        at: datetime,
        source: str | None = None,
    ) -> int:
        result = conn.execute(
            insert(events_table).values(
                ticket_id=ticket_id,
                at=at,
                kind=kind.value,
                actor=actor,
                body=body,
                source_id=source,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    # -- reading -------------------------------------------------------------------------

    def get(self, ticket_id: int) -> Ticket | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(tickets_table).where(tickets_table.c.id == ticket_id)).first()
            return _ticket(row) if row is not None else None

    def by_number(self, number: str) -> Ticket | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tickets_table).where(tickets_table.c.number == number.upper())
            ).first()
            return _ticket(row) if row is not None else None

    def open_for_conversation(self, conversation_id: str) -> Ticket | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tickets_table)
                .where(
                    tickets_table.c.conversation_id == conversation_id,
                    tickets_table.c.status.in_([s.value for s in OPEN]),
                )
                .order_by(tickets_table.c.id.desc())
                .limit(1)
            ).first()
            return _ticket(row) if row is not None else None

    def queue(self, where: QueueFilter = QueueFilter(), limit: int = 200) -> list[Ticket]:
        """Open work, most urgent first: high priority, then oldest."""
        t = tickets_table
        conditions: list[ColumnElement[bool]] = [t.c.status.in_([s.value for s in where.statuses])]
        if where.priority:
            conditions.append(t.c.priority == where.priority)
        if where.reason:
            conditions.append(t.c.reason == where.reason)
        if where.channel:
            conditions.append(t.c.channel == where.channel)
        if where.claimed_by:
            conditions.append(t.c.claimed_by == where.claimed_by)
        order = (t.c.priority != Priority.HIGH.value, t.c.created_at)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(and_(*conditions)).order_by(*order).limit(limit))
            return [_ticket(r) for r in rows]

    def events(self, ticket_id: int) -> list[Event]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(events_table)
                .where(events_table.c.ticket_id == ticket_id)
                .order_by(events_table.c.id)
            )
            return [_event(r) for r in rows]

    def events_since(self, after_id: int, ticket_ids: Sequence[int]) -> list[Event]:
        """Events of these tickets with an id above `after_id`, in the order they happened."""
        if not ticket_ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(events_table)
                .where(
                    events_table.c.id > after_id,
                    events_table.c.ticket_id.in_(list(ticket_ids)),
                )
                .order_by(events_table.c.id)
            )
            return [_event(r) for r in rows]

    def of_requester(self, requester: str) -> list[Ticket]:
        """The requester's tickets, most recently updated first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(tickets_table)
                .where(func.lower(tickets_table.c.requester) == requester.lower())
                .order_by(tickets_table.c.updated_at.desc())
            )
            return [_ticket(r) for r in rows]

    def requests_of(self, requester: str) -> list[RequestView]:
        """The requester's tickets, as they may see them (no summary, notes or transcript)."""
        return [
            RequestView(t.number, t.title, t.status.value, t.updated_at, t.claimed_by)
            for t in self.of_requester(requester)
        ]

    def search(self, text: str, limit: int = 50) -> list[Ticket]:
        pattern = f"%{text.lower()}%"
        t = tickets_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t)
                .where(
                    or_(func.lower(t.c.number).like(pattern), func.lower(t.c.title).like(pattern))
                )
                .order_by(t.c.id.desc())
                .limit(limit)
            )
            return [_ticket(r) for r in rows]
