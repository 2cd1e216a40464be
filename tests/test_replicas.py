"""Two replicas on one database: a turn never overwrites another replica's turn on the same
conversation, and a request for a person arriving at both opens one ticket."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import Engine, func, select

from bot import wiring
from bot.db import make_engine
from bot.dialogue.conversations import ConversationChanged, ConversationStore, messages_table
from bot.dialogue.messages import Identity, IncomingMessage
from bot.dialogue.turns import Turns
from handoff.tickets import tickets_table
from retrieval.embedding import HashEmbedder
from tests.clock import CLOCK
from tests.conftest import test_settings

USER = Identity("u-alex", "alex.morgan@example.com", "Alex Morgan")


def test_a_save_over_a_stale_read_is_refused(engine: Engine) -> None:
    store = ConversationStore(engine)
    first = store.open("web", "k1", USER.user_id, USER.email, USER.name, {})
    stale = store.get(first.id)
    assert stale is not None
    with engine.begin() as conn:
        store.save(conn, replace(first, flow_state={"turn": 1}))
    with pytest.raises(ConversationChanged), engine.begin() as conn:
        store.save(conn, replace(stale, flow_state={"turn": "stale"}))
    fresh = store.get(first.id)
    assert fresh is not None and fresh.flow_state == {"turn": 1}
    # agents' saves are unchecked but still bump the version a turn will compare against
    with engine.begin() as conn:
        store.save(conn, replace(stale, mode="human"), checked=False)
    assert store.get(first.id).version == fresh.version + 1  # type: ignore[union-attr]


def replica(url: str) -> Turns:
    services = wiring.services(
        test_settings(url), make_engine(url), HashEmbedder(), today=CLOCK.today
    )
    wiring.warm_up(services)
    return Turns(services)


async def test_simultaneous_requests_for_a_person_at_two_replicas_open_one_ticket(
    demo_url: str,
) -> None:
    one, two = replica(demo_url), replica(demo_url)
    keys = [f"race-{n}" for n in range(12)]
    for key in keys:  # the conversations exist, with the assistant
        await one.handle(IncomingMessage("web", key, USER, "hello"))
    await asyncio.gather(
        *(
            turns.handle(IncomingMessage("web", key, USER, "talk to a person"))
            for key in keys
            for turns in (one, two)
        )
    )
    engine = one.s.conversations.engine
    with engine.connect() as conn:
        per_conversation = conn.execute(
            select(tickets_table.c.conversation_id, func.count())
            .where(tickets_table.c.conversation_id.is_not(None))  # not the demo requests
            .group_by(tickets_table.c.conversation_id)
        ).all()
        user_lines = conn.execute(
            select(func.count()).where(
                messages_table.c.role == "user", messages_table.c.text == "talk to a person"
            )
        ).scalar_one()
    assert len(per_conversation) == len(keys)
    assert all(count == 1 for _, count in per_conversation)
    assert user_lines == 2 * len(keys)  # the second request was kept, not lost
