"""Tables owned by the Slack channel: where each request was posted for the agents.

The post's thread is the agents' side of the conversation, so a reply in a thread is mapped
back to its request through (channel, ts). Stored, not kept in memory, so it survives restarts
and every replica finds the same post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
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
)
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

desk_posts_table = Table(
    "slack_desk_posts",
    metadata,
    Column(
        "ticket_id", Integer, primary_key=True, autoincrement=False
    ),  # handoff_tickets.id (no foreign key)
    Column("channel", String(32), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("channel", "ts", name="uq_slack_desk_posts_message"),
)


@dataclass(frozen=True)
class DeskPost:
    ticket_id: int
    channel: str
    ts: str


class DeskStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, post: DeskPost) -> bool:
        """Remember a post; False if the request already has one."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(desk_posts_table).values(
                        ticket_id=post.ticket_id,
                        channel=post.channel,
                        ts=post.ts,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            return False
        return True

    def of_ticket(self, ticket_id: int) -> DeskPost | None:
        t = desk_posts_table
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.ticket_id == ticket_id)).first()
        return DeskPost(row.ticket_id, row.channel, row.ts) if row is not None else None

    def at(self, channel: str, ts: str) -> DeskPost | None:
        """The request whose post is message `ts` in `channel` (a thread's parent)."""
        t = desk_posts_table
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.channel == channel, t.c.ts == ts)).first()
        return DeskPost(row.ticket_id, row.channel, row.ts) if row is not None else None
