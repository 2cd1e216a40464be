"""The service desk in a Teams channel, at the protocol level: hand-off cards posted to the
agents' channel through the fake Bot Connector, Claim and Resolve as Action.Execute invokes,
the conversation relayed between the card's thread and the employee's chat."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.channels.teams import wording as teams_wording
from bot.channels.teams.activity import channel_setting
from bot.channels.teams.cards import CARD
from bot.channels.teams.desk import DESTINATION
from handoff.outbox import BACKOFF_SECONDS
from handoff.tickets import EventKind, Status, Ticket
from tests.clock import ManualClock
from tests.teams_fake import (
    AGENTS,
    ALEX,
    CHRIS,
    DANA,
    GENERAL,
    AzureFake,
    FakeConnector,
    Posted,
    World,
    actions,
    ai_labelled,
    azure_fake,
    execute,
    installed,
    mention,
    personal,
    press,
    teams_world,
    thread_reply,
    words,
)

VPN = "how can I use the VPN at home"


@pytest.fixture(scope="module")
def azure() -> Iterator[AzureFake]:
    with azure_fake() as fake:
        yield fake


async def set_up_desk(world: World, channel: str = AGENTS) -> Posted:
    command = mention(DANA, channel, "set agent channel")
    assert (await world.teams.send(command)).status == 201
    return world.connector.in_conversation(command["conversation"]["id"])[-1]


def ticket_of(world: World) -> Ticket:
    conversation = world.bot.services.conversations.find("teams", personal(ALEX)["id"])
    assert conversation is not None and conversation.ticket_id is not None
    ticket = world.bot.services.tickets.get(conversation.ticket_id)
    assert ticket is not None
    return ticket


async def handed_off(world: World) -> tuple[Posted, Ticket]:
    """Alex asked a question, then for a person; the card is in the agents' channel."""
    await world.say(ALEX, VPN)
    await world.say(ALEX, "talk to a person")
    await world.settle()
    [root] = world.connector.threads_in(AGENTS)
    return root, ticket_of(world)


def card_of(answer_body: dict[str, Any]) -> dict[str, Any]:
    assert answer_body["statusCode"] == 200 and answer_body["type"] == CARD
    card = answer_body["value"]
    assert isinstance(card, dict)
    return card


async def claim(world: World, root: Posted) -> dict[str, Any]:
    """Dana presses Claim on the card; returns the card the invoke answers with."""
    answer = await world.teams.send(press(DANA, root, "Claim"))
    assert answer.status == 200
    return card_of(answer.json())


async def test_a_handoff_is_a_card_in_the_agents_channel(demo_url: str, azure: AzureFake) -> None:
    async with teams_world(demo_url, azure) as world:
        teams = world.connector
        assert teams_wording.DESK_BOUND in (await set_up_desk(world)).words

        root, ticket = await handed_off(world)
        handoff = world.chat(ALEX)[-1]
        assert ticket.number in handoff.words
        assert ticket.number in root.words and "Asked for a person" in root.words
        assert "Alex Morgan (alex.morgan@example.com)" in root.words
        assert ticket.summary in root.words
        assert [a["title"] for a in actions(root.activity)] == ["Claim", "Resolve"]
        [created] = [c for c in teams.calls if c.path == "/v3/conversations"]
        assert created.body["channelData"] == {"channel": {"id": AGENTS}}
        assert created.body["isGroup"] is True
        assert created.authorization in {f"Bearer {t}" for t in azure.issued}


async def test_a_claimed_request_relays_both_ways(demo_url: str, azure: AzureFake) -> None:
    async with teams_world(demo_url, azure) as world:
        teams = world.connector
        await set_up_desk(world)
        root, _ = await handed_off(world)

        # Dana claims: the invoke's response is the card she sees at once
        card = await claim(world, root)
        assert "Claimed by Dana Whitfield" in words({"attachments": [{"content": card}]})
        assert [a["title"] for a in card["actions"]] == ["Resolve"]
        await world.settle()
        joined = world.chat(ALEX)[-1]
        assert "Dana Whitfield from the IT service desk has joined" in joined.words
        assert joined.reply_to is None  # a proactive message
        assert teams.find(root.id).updates == 1  # everyone's card shows the claim
        assert "Claimed by Dana Whitfield" in teams.find(root.id).words

        # Dana's reply in the thread reaches Alex, with her name and without the AI label
        said = mention(DANA, AGENTS, "Hi Alex, I'll reset it for you.", thread=root.conversation)
        assert (await world.teams.send(said)).status == 201
        await world.settle()
        relayed = world.chat(ALEX)[-1]
        assert "I'll reset it for you." in relayed.words
        assert "**Dana Whitfield** · IT service desk" in relayed.words
        assert not ai_labelled(relayed.activity)
        thread = teams.in_conversation(root.conversation)
        assert not any("reset it for you" in p.words for p in thread)  # no echo in the thread

        # Alex's answer goes to the thread; the assistant stays quiet
        assert await world.say(ALEX, "thanks, I'm at my desk now") == []
        await world.settle()
        assert (
            "**Alex Morgan:** thanks, I'm at my desk now"
            in teams.in_conversation(root.conversation)[-1].words
        )


async def test_resolving_with_a_note_hands_the_employee_back(
    demo_url: str, azure: AzureFake
) -> None:
    async with teams_world(demo_url, azure) as world:
        await set_up_desk(world)
        root, ticket = await handed_off(world)
        await claim(world, root)
        await world.settle()

        # Dana resolves with a note: Alex is back with the assistant and asked if it is solved
        resolve = execute(
            DANA, root.conversation, "resolve", {"ticket": ticket.id}, resolution="Password reset."
        )
        answer = await world.teams.send(resolve)
        assert answer.status == 200
        card = card_of(answer.json())
        assert "Resolved by Dana Whitfield" in words({"attachments": [{"content": card}]})
        assert "actions" not in card
        await world.settle()
        back = world.chat(ALEX)[-1]
        assert f"marked request {ticket.number} as resolved" in back.words
        assert "Resolution: Password reset." in back.words
        assert [a["title"] for a in actions(back.activity)] == [
            "Yes, it's solved",
            "No, I still need help",
        ]
        resolved = world.bot.services.tickets.get(ticket.id)
        assert resolved is not None and resolved.status is Status.RESOLVED
        assert resolved.resolved_by == "Dana Whitfield"
        assert world.connector.find(root.id).updates == 2  # claimed, then resolved

        again = await world.say(ALEX, VPN)
        assert "vpn.example.com" in again[-1].words  # the assistant answers again


async def test_hand_offs_from_before_the_desk_existed_are_posted_when_it_is_set_up(
    demo_url: str, azure: AzureFake
) -> None:
    async with teams_world(demo_url, azure) as world:
        await world.say(ALEX, "talk to a person")
        await world.settle()
        ticket = ticket_of(world)
        assert world.connector.threads_in(AGENTS) == []  # nowhere to post yet
        assert teams_wording.DESK_BOUND in (await set_up_desk(world)).words
        await world.settle()
        [root] = world.connector.threads_in(AGENTS)  # the demo's older requests are not
        assert ticket.number in root.words
        assert [a["title"] for a in actions(root.activity)] == ["Claim", "Resolve"]
        await set_up_desk(world)  # set up again: nothing posted twice
        await world.settle()
        assert len(world.connector.threads_in(AGENTS)) == 1


async def race_for_the_claim(world: World) -> None:
    await set_up_desk(world)
    root, ticket = await handed_off(world)
    answers = await asyncio.gather(
        world.teams.send(press(DANA, root, "Claim")),
        world.teams.send(press(CHRIS, root, "Claim")),
    )
    assert [a.status for a in answers] == [200, 200]
    claimed = world.bot.services.tickets.get(ticket.id)
    assert claimed is not None and claimed.claimed_by in ("Dana Whitfield", "Chris Okafor")
    for answer in answers:  # both see who has it
        card = card_of(answer.json())
        assert f"Claimed by {claimed.claimed_by}" in words({"attachments": [{"content": card}]})
    events = world.bot.services.tickets.events(ticket.id)
    assert [e.actor for e in events if e.kind is EventKind.CLAIMED] == [claimed.claimed_by]
    await world.settle()
    joined = [p for p in world.chat(ALEX) if "has joined" in p.words]
    assert len(joined) == 1 and str(claimed.claimed_by) in joined[0].words


async def test_two_simultaneous_claims_have_one_winner(demo_url: str, azure: AzureFake) -> None:
    async with teams_world(demo_url, azure) as world:
        await race_for_the_claim(world)


@pytest.mark.postgres
async def test_two_simultaneous_claims_have_one_winner_on_postgresql(
    pg_engine: Engine, pg_database: str, azure: AzureFake
) -> None:
    async with teams_world(pg_database, azure) as world:
        await race_for_the_claim(world)


@pytest.mark.postgres
async def test_repeated_claim_races_after_hand_backs_on_postgresql(
    pg_engine: Engine, pg_database: str, azure: AzureFake
) -> None:
    """Three races on PostgreSQL for one request the dialogue core handed off; after each the
    winner hands it back."""
    async with teams_world(pg_database, azure) as world:
        await set_up_desk(world)
        services = world.bot.services
        root, ticket = await handed_off(world)
        for _ in range(3):
            seen = len(services.tickets.events(ticket.id))
            answers = await asyncio.gather(
                world.teams.send(press(DANA, root, "Claim")),
                world.teams.send(press(CHRIS, root, "Claim")),
            )
            assert [a.status for a in answers] == [200, 200]
            events = services.tickets.events(ticket.id)[seen:]
            winners = [e.actor for e in events if e.kind is EventKind.CLAIMED]
            assert len(winners) == 1 and winners[0] in ("Dana Whitfield", "Chris Okafor")
            assert await world.bot.runtime.relay.hand_back(ticket.id, str(winners[0]), "console")


async def test_the_desk_survives_a_restart(demo_url: str) -> None:
    connector = await FakeConnector().start()
    try:
        async with teams_world(demo_url, connector=connector) as first:
            await set_up_desk(first)
            root, ticket = await handed_off(first)
            assert (await first.teams.send(press(DANA, root, "Claim"))).status == 200
            await first.settle()

        async with teams_world(demo_url, connector=connector) as second:
            assert DESTINATION in second.bot.services.desks.listening()
            before = len(second.chat(ALEX))
            said = thread_reply(DANA, root.conversation, "Back after the restart?")
            assert (await second.teams.send(said)).status == 201
            await second.settle()
            assert "Back after the restart?" in second.chat(ALEX)[-1].words
            assert len(second.chat(ALEX)) == before + 1

            assert await second.say(ALEX, "yes, still here") == []
            await second.settle()
            thread = connector.in_conversation(root.conversation)
            assert "**Alex Morgan:** yes, still here" in thread[-1].words
            assert ticket_of(second).id == ticket.id
    finally:
        await connector.close()


async def test_who_may_write_to_the_employee(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        await set_up_desk(world)
        root, ticket = await handed_off(world)
        chat_before = len(world.chat(ALEX))
        tickets = world.bot.services.tickets

        # writing in an unclaimed thread claims the request for the writer
        first = thread_reply(DANA, root.conversation, "Hello Alex, Dana here.")
        for _ in range(2):  # delivered twice by Teams: relayed once
            assert (await world.teams.send(dict(first))).status == 201
        await world.settle()
        chat = world.chat(ALEX)[chat_before:]
        assert ["has joined" in p.words for p in chat] == [True, False]
        assert "Hello Alex, Dana here." in chat[-1].words

        # an internal note stays on the ticket
        note = thread_reply(DANA, root.conversation, "note: asset tag 4711, check warranty")
        assert (await world.teams.send(note)).status == 201
        # another agent's words are kept as a note, and they are told why
        other = thread_reply(CHRIS, root.conversation, "I can take this one")
        assert (await world.teams.send(other)).status == 201
        hint = world.connector.in_conversation(root.conversation)[-1]
        assert hint.reply_to == other["id"]
        assert teams_wording.DESK_NOT_YOURS.format(agent="Dana Whitfield") in hint.words
        await world.settle()
        assert len(world.chat(ALEX)) == chat_before + 2  # neither reached Alex
        notes = [(e.actor, e.body) for e in tickets.events(ticket.id) if e.kind is EventKind.NOTE]
        assert notes == [
            ("Dana Whitfield", "asset tag 4711, check warranty"),
            ("Chris Okafor", "I can take this one"),
        ]

        # an agent at another desk (the console) shows up in the thread
        assert await world.bot.runtime.relay.reply(ticket.id, "Sam Lee", "Checked.", "console")
        await world.settle()
        assert (
            "**Sam Lee** (in console): Checked."
            in world.connector.in_conversation(root.conversation)[-1].words
        )

        # once resolved, nothing more reaches the employee
        assert await world.bot.runtime.relay.resolve(ticket.id, "Dana Whitfield", "", "console")
        await world.settle()
        late = thread_reply(DANA, root.conversation, "one more thing")
        assert (await world.teams.send(late)).status == 201
        assert (
            teams_wording.DESK_CLOSED
            in world.connector.in_conversation(root.conversation)[-1].words
        )
        assert "one more thing" not in world.chat(ALEX)[-1].words


async def test_the_agents_channel_cannot_be_diverted(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        assert DESTINATION not in world.bot.services.desks.listening()  # nowhere to post yet
        assert teams_wording.DESK_BOUND in (await set_up_desk(world)).words
        assert DESTINATION in world.bot.services.desks.listening()
        refused = await set_up_desk(world, GENERAL)
        assert teams_wording.DESK_REFUSED in refused.words
        await handed_off(world)  # the card still goes to the agents' channel
        assert world.connector.threads_in(GENERAL) == []


async def test_a_configured_agents_channel_is_found_when_the_app_is_installed(
    demo_url: str,
) -> None:
    clock = ManualClock()
    async with teams_world(demo_url, clock=clock, DESKBOT_TEAMS_AGENT_CHANNEL=GENERAL) as world:
        assert DESTINATION in world.bot.services.desks.listening()
        await world.say(ALEX, "talk to a person")
        assert await world.bot.deliver() == 0  # no service URL for the channel yet: kept
        assert world.bot.services.outbox.depth() == 1

        assert (await world.teams.send(installed(DANA, team=True))).status == 201
        await world.settle()
        [root] = world.connector.threads_in(GENERAL)  # posted once the channel is known
        assert ticket_of(world).number in root.words
        assert world.bot.services.outbox.depth() == 1  # the kept row waits out its backoff
        clock.advance(BACKOFF_SECONDS[0])  # the kept row's retry comes due: not posted twice
        await world.settle()
        assert world.connector.threads_in(GENERAL) == [root]
        assert world.bot.services.outbox.depth() == 0

        assert teams_wording.DESK_REFUSED in (await set_up_desk(world, AGENTS)).words


async def test_card_actions_outside_their_thread_do_nothing(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        await set_up_desk(world)
        root, ticket = await handed_off(world)
        forged = [
            execute(ALEX, root.conversation, "claim", {"ticket": ticket.id})
            | {"conversation": personal(ALEX)},
            execute(ALEX, f"{GENERAL};messageid=42", "claim", {"ticket": ticket.id}),
        ]
        for invoke in forged:
            answer = await world.teams.send(invoke)  # the Universal Actions error, on the card
            assert answer.status == 200 and answer.json()["statusCode"] == 400
        unclaimed = world.bot.services.tickets.get(ticket.id)
        assert unclaimed is not None and unclaimed.claimed_by is None


@pytest.mark.parametrize(
    "value",
    [
        AGENTS,
        " 19%3aagents0000%40thread.tacv2 ",
        "https://teams.microsoft.com/l/channel/19%3aagents0000%40thread.tacv2/Service%20desk"
        "?groupId=6d3c&tenantId=72f9",
    ],
)
def test_the_agents_channel_setting_takes_an_id_or_a_link(value: str) -> None:
    assert channel_setting(value) == AGENTS


def test_an_empty_agents_channel_setting_is_none() -> None:
    assert (
        channel_setting("") is None
        and channel_setting("  ") is None
        and channel_setting(None) is None
    )
