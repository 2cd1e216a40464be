"""Pasted secrets leave no trace anywhere: an employee pastes secrets at every step of a
conversation (a question nobody can answer, a hand-off, messages while waiting, feedback) and
an agent pastes some in the console (reply, internal note, resolution); then every row of
every table (conversations, decisions, gaps, tickets and their events, outbox, audit, ...)
and every log record at every level are searched for them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, MetaData, select

from bot.console.accounts import Role
from bot.dialogue.messages import Identity, IncomingMessage
from handoff.outbox import OutboxMessage
from tests.test_console_support import BARE_HANDLER, serve

pytestmark = BARE_HANDLER

GITHUB = "ghp_" + "FAKE0" * 7 + "F"
REFERENCE = {"channel": "D0123", "team": "T1", "user": "U42"}
ALEX = Identity("u-alex", "alex.morgan@example.com", "Alex Morgan")
EMPLOYEE = [
    ("my password is Summer2026! and the payroll portal still fails", "Summer2026!"),
    ("aws cli says invalid key, access key id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("postgres://svc_app:FakePass2026@db01.corp.example:5432/hr refuses me", "FakePass2026"),
    ("can you charge the license to 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111"),
]
AGENT = [
    ("try the token " + GITHUB, GITHUB),
    ("api_key=fake_0a1b2c3d4e5f6a7b8c9d was in the config", "fake_0a1b2c3d4e5f6a7b8c9d"),
    ("temporary password is Hunter2Winter! change it", "Hunter2Winter!"),
]
SECRETS = [secret for _, secret in EMPLOYEE + AGENT]
NON_EMPTY = (
    "bot_messages",
    "bot_decisions",
    "kb_gaps",
    "handoff_tickets",
    "handoff_events",
    "handoff_outbox",
    "console_audit",
)


def every_row(engine: Engine) -> Iterator[tuple[str, str]]:
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                yield table.name, " ".join(str(v) for v in row)


async def test_no_pasted_secret_is_stored_anywhere_or_logged(
    demo_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serve(demo_url) as server:
        server.add("dana", Role.AGENT, "Dana Whitfield")
        outbox = server.services.outbox
        sent: list[str] = []

        async def slack(message: OutboxMessage) -> None:  # what would reach Slack
            sent.append(f"{message.target} {message.payload}")

        outbox.register("slack", slack)

        async def say(text: str) -> None:
            message = IncomingMessage("slack", "D0123", ALEX, text, reference=REFERENCE)
            await server.runtime.turns.handle(message)
            await outbox.deliver_due()

        await say(EMPLOYEE[0][0])  # a question nobody answers: a gap
        await say(EMPLOYEE[1][0])
        await say("talk to a person")
        await say(EMPLOYEE[2][0])  # while waiting: a ticket event and a desk notification
        found = server.services.conversations.find("slack", "D0123")
        assert found is not None and found.ticket_id is not None
        ticket = f"/console/tickets/{found.ticket_id}"
        async with server.client() as agent:
            await agent.sign_in("dana")
            await agent.get(ticket)
            await agent.post(ticket + "/claim")
            await agent.get(ticket)
            await agent.post(ticket + "/reply", {"text": AGENT[0][0]})
            await agent.get(ticket)
            await agent.post(ticket + "/note", {"text": AGENT[1][0]})
            await say(EMPLOYEE[3][0])
            await agent.get(ticket)
            await agent.post(ticket + "/resolve", {"resolution": AGENT[2][0]})
            await agent.get(ticket)
        await outbox.deliver_due()
        engine = server.services.tickets.engine
        rows = list(every_row(engine))

    tables = {name for name, _ in rows}
    # the scan is not vacuous: the places a leak would go all hold rows of this conversation
    for name in NON_EMPTY:
        assert name in tables, (name, sorted(tables))
    leaks = [(name, s) for name, row in rows for s in SECRETS if s in row]
    assert leaks == []
    assert len(sent) >= 3 and [s for s in SECRETS if any(s in m for m in sent)] == []
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert [s for s in SECRETS if s in logged] == []
    # and what was redacted is still there, named
    assert any("[redacted" in row for name, row in rows if name == "handoff_events")
