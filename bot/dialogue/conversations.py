"""Conversations, their transcripts, the decision audit and delivery de-duplication.

State is saved with every turn, so a restart in the middle of a conversation loses nothing.
Everything stored here has been redacted first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from bot.db import aware
from bot.dialogue.messages import Reply

metadata = MetaData()


class ConversationChanged(Exception):
    """The conversation was saved by someone else since it was read."""


conversations_table = Table(
    "bot_conversations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("external_key", String(400), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("requester", String(320), nullable=False),
    Column("requester_name", Text, nullable=True),
    Column("mode", String(16), nullable=False),  # "bot" or "human"
    Column("disclosed", Boolean, nullable=False),
    Column("flow_state", JSON, nullable=False),
    Column("ticket_id", Integer, nullable=True),
    Column("agent_name", Text, nullable=True),
    Column("reference", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # bumped by every save; a turn saves only over the version it read (see `save`)
    Column("version", Integer, nullable=False, server_default="0"),
    UniqueConstraint("channel", "external_key", name="uq_bot_conversations_key"),
)

messages_table = Table(
    "bot_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(36), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("role", String(16), nullable=False),  # "user", "bot", "agent", "system"
    Column("text", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_bot_messages_conversation", "conversation_id", "id"),
)

decisions_table = Table(
    "bot_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("conversation_id", String(36), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("intent", String(32), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reason", String(32), nullable=True),
    Column("article_id", String(128), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("threshold", Float, nullable=True),
    Column("candidates", JSON, nullable=False),
    Column("route", String(16), nullable=False),
    Column("category", String(64), nullable=True),
    Column("question", Text, nullable=True),
    Column("latency_ms", Float, nullable=True),
    Index("ix_bot_decisions_at", "at"),
    Index("ix_bot_decisions_conversation", "conversation_id"),
)

deliveries_table = Table(
    "bot_deliveries",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("delivery_id", String(200), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)


secrets_table = Table(
    "bot_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


def shared_secret(engine: Engine, name: str, make: Any) -> str:
    """A secret every replica shares (e.g. the cookie signing key): created once, then read."""
    with engine.connect() as conn:
        value = conn.execute(
            select(secrets_table.c.value).where(secrets_table.c.name == name)
        ).scalar()
    if value:
        return str(value)
    try:
        with engine.begin() as conn:
            conn.execute(insert(secrets_table).values(name=name, value=make()))
    except IntegrityError:
        pass  # another replica won the race; use theirs
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(secrets_table.c.value).where(secrets_table.c.name == name)
            ).scalar_one()
        )


@dataclass(frozen=True)
class Conversation:
    id: str
    channel: str
    external_key: str
    user_id: str
    requester: str
    requester_name: str | None
    mode: str
    disclosed: bool
    flow_state: Mapping[str, Any]
    ticket_id: int | None
    agent_name: str | None
    reference: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @property
    def with_person(self) -> bool:
        return self.mode == "human"


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: str
    at: datetime
    role: str
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def reply(self) -> Reply | None:
        return Reply.from_dict(self.data["reply"]) if "reply" in self.data else None


# Statements of every turn, built once: building them per call costs more than running them
# on SQLite. The SET columns of the updates come from the parameters passed.
_GET = select(conversations_table).where(conversations_table.c.id == bindparam("conversation"))
_SAVE = (
    update(conversations_table)
    .where(conversations_table.c.id == bindparam("conversation"))
    .values(version=conversations_table.c.version + 1)
)
_SAVE_CHECKED = _SAVE.where(conversations_table.c.version == bindparam("read_version"))
_ADD_DECISION = insert(decisions_table)


def _conversation(row: Row[Any]) -> Conversation:
    m = row._mapping
    return Conversation(
        id=m["id"],
        channel=m["channel"],
        external_key=m["external_key"],
        user_id=m["user_id"],
        requester=m["requester"],
        requester_name=m["requester_name"],
        mode=m["mode"],
        disclosed=bool(m["disclosed"]),
        flow_state=m["flow_state"] or {},
        ticket_id=m["ticket_id"],
        agent_name=m["agent_name"],
        reference=m["reference"] or {},
        created_at=aware(m["created_at"]),
        updated_at=aware(m["updated_at"]),
        version=m["version"],
    )


def _message(row: Row[Any]) -> StoredMessage:
    m = row._mapping
    return StoredMessage(
        m["id"], m["conversation_id"], aware(m["at"]), m["role"], m["text"], m["data"] or {}
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


class ConversationStore:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self.now = clock  # every time this store writes; tests move it

    def open(
        self,
        channel: str,
        key: str,
        user_id: str,
        requester: str,
        name: str | None,
        reference: Mapping[str, Any],
    ) -> Conversation:
        """The conversation for this channel key, created on first contact."""
        found = self.find(channel, key)
        if found is not None:
            if reference and dict(reference) != dict(found.reference):
                with self.engine.begin() as conn:
                    conn.execute(
                        update(conversations_table)
                        .where(conversations_table.c.id == found.id)
                        .values(reference=dict(reference))
                    )
                return replace(found, reference=reference)
            return found
        now = self.now()
        values = {
            "id": str(uuid.uuid4()),
            "channel": channel,
            "external_key": key,
            "user_id": user_id,
            "requester": requester,
            "requester_name": name,
            "mode": "bot",
            "disclosed": False,
            "flow_state": {},
            "ticket_id": None,
            "agent_name": None,
            "reference": dict(reference),
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(conversations_table).values(values))
        except IntegrityError:  # created concurrently by another worker or replica
            found = self.find(channel, key)
            if found is None:
                raise LookupError(f"conversation {channel}:{key} is gone") from None
            return found
        created = self.get(str(values["id"]))
        if created is None:
            raise LookupError(f"conversation {values['id']} is gone")
        return created

    def find(self, channel: str, key: str) -> Conversation | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(conversations_table).where(
                    conversations_table.c.channel == channel,
                    conversations_table.c.external_key == key,
                )
            ).first()
            return _conversation(row) if row is not None else None

    def get(self, conversation_id: str) -> Conversation | None:
        with self.engine.connect() as conn:
            row = conn.execute(_GET, {"conversation": conversation_id}).first()
            return _conversation(row) if row is not None else None

    def save(self, conn: Connection, conversation: Conversation, *, checked: bool = True) -> None:
        """Store the conversation's state. Checked (the default): only over the version it was
        read at, else `ConversationChanged` and the caller's transaction rolls back; another
        worker or replica handled a message of the same conversation in the meantime.
        Unchecked saves (agents' claims and hand-backs, which the ticket already serialises)
        still bump the version, so a turn racing with them starts again."""
        state = {
            "conversation": conversation.id,
            "mode": conversation.mode,
            "disclosed": conversation.disclosed,
            "flow_state": dict(conversation.flow_state),
            "ticket_id": conversation.ticket_id,
            "agent_name": conversation.agent_name,
            "updated_at": self.now(),
        }
        if checked:
            result = conn.execute(_SAVE_CHECKED, {**state, "read_version": conversation.version})
        else:
            result = conn.execute(_SAVE, state)
        if checked and result.rowcount == 0:
            raise ConversationChanged(conversation.id)

    def add_messages(
        self,
        conn: Connection,
        conversation_id: str,
        messages: Sequence[tuple[str, str, Mapping[str, Any]]],
    ) -> None:
        if not messages:
            return
        now = self.now()
        conn.execute(
            insert(messages_table),
            [
                {
                    "conversation_id": conversation_id,
                    "at": now,
                    "role": role,
                    "text": text,
                    "data": dict(data),
                }
                for role, text, data in messages
            ],
        )

    def add_decision(self, conn: Connection, values: Mapping[str, Any]) -> None:
        conn.execute(_ADD_DECISION, {"at": self.now(), **values})

    def messages(
        self, conversation_id: str, after: int = 0, limit: int = 500
    ) -> list[StoredMessage]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(messages_table)
                .where(
                    messages_table.c.conversation_id == conversation_id, messages_table.c.id > after
                )
                .order_by(messages_table.c.id)
                .limit(limit)
            )
            return [_message(r) for r in rows]

    def decisions(self, conversation_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(decisions_table)
                .where(decisions_table.c.conversation_id == conversation_id)
                .order_by(decisions_table.c.id)
            )
            return [dict(r._mapping) for r in rows]

    def delivered(self, channel: str, delivery_id: str) -> bool:
        """Whether a turn for this delivery id was committed."""
        t = deliveries_table
        with self.engine.connect() as conn:
            found = conn.execute(
                select(t.c.delivery_id).where(
                    t.c.channel == channel, t.c.delivery_id == delivery_id
                )
            ).first()
        return found is not None

    def record_delivery(self, conn: Connection, channel: str, delivery_id: str) -> None:
        """Record a delivery id in the caller's transaction (the one saving its turn); a second
        record of the same id fails that transaction with `IntegrityError`."""
        conn.execute(
            insert(deliveries_table).values(channel=channel, delivery_id=delivery_id, at=self.now())
        )

    def first_delivery(self, channel: str, delivery_id: str) -> bool:
        """Record a delivery id; False when it was seen before (a retry or duplicate). The
        primary key makes this hold across restarts and replicas."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(deliveries_table).values(
                        channel=channel, delivery_id=delivery_id, at=self.now()
                    )
                )
        except IntegrityError:
            return False
        return True
