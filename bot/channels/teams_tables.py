"""Tables owned by the Teams channel: where the agents' channel is, and which thread in it
belongs to which ticket. Both must survive restarts, or agents' replies would go nowhere."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, UniqueConstraint

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
