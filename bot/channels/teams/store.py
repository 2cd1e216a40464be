"""The Teams desk's durable state, in tables owned by the Teams channel: where the agents'
channel is and which thread belongs to which ticket. Kept in the database so that replies in a
thread still reach the employee after a restart, and so that every replica agrees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

agent_channel_table = Table(
    "teams_agent_channel",
    metadata,
    Column("id", String(16), primary_key=True),  # always "agents": one desk per deployment
    Column("channel_id", String(400), nullable=False),
    Column("reference", JSON, nullable=False),  # how to post there: service URL, bot, tenant
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

desk_threads_table = Table(
    "teams_desk_threads",
    metadata,
    Column("ticket_id", Integer, primary_key=True, autoincrement=False),  # a handoff ticket id
    Column("conversation_id", String(400), nullable=False),  # "19:...@thread.tacv2;messageid=..."
    Column("activity_id", String(200), nullable=False),  # the card, so it can be updated
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("conversation_id", name="uq_teams_desk_threads_conversation"),
)

AGENTS = "agents"


@dataclass(frozen=True)
class AgentChannel:
    channel_id: str
    reference: Mapping[str, Any]  # a conversation reference: service URL, bot, tenant


@dataclass(frozen=True)
class DeskThread:
    ticket_id: int
    conversation_id: str  # the thread, "19:...@thread.tacv2;messageid=<card id>"
    activity_id: str  # the handoff card at its root


class DeskStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def agent_channel(self) -> AgentChannel | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(agent_channel_table).where(agent_channel_table.c.id == AGENTS)
            ).first()
        return AgentChannel(row.channel_id, row.reference) if row is not None else None

    def set_agent_channel(self, channel: AgentChannel) -> None:
        values = {
            "channel_id": channel.channel_id,
            "reference": dict(channel.reference),
            "updated_at": datetime.now(UTC),
        }
        t = agent_channel_table
        with self.engine.begin() as conn:
            if conn.execute(update(t).where(t.c.id == AGENTS).values(values)).rowcount == 1:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t).values(id=AGENTS, **values))
        except IntegrityError:  # another replica inserted it first: overwrite
            with self.engine.begin() as conn:
                conn.execute(update(t).where(t.c.id == AGENTS).values(values))

    def threaded(self, ticket_ids: Sequence[int]) -> set[int]:
        """Which of these tickets have a thread in the agents' channel."""
        t = desk_threads_table
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.ticket_id).where(t.c.ticket_id.in_(list(ticket_ids))))
            return {r.ticket_id for r in rows}

    def thread(self, ticket_id: int) -> DeskThread | None:
        return self._thread(desk_threads_table.c.ticket_id == ticket_id)

    def thread_in(self, conversation_id: str) -> DeskThread | None:
        return self._thread(desk_threads_table.c.conversation_id == conversation_id)

    def _thread(self, where: Any) -> DeskThread | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(desk_threads_table).where(where)).first()
        return DeskThread(row.ticket_id, row.conversation_id, row.activity_id) if row else None

    def add_thread(self, thread: DeskThread) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(desk_threads_table).values(
                    ticket_id=thread.ticket_id,
                    conversation_id=thread.conversation_id,
                    activity_id=thread.activity_id,
                    created_at=datetime.now(UTC),
                )
            )
