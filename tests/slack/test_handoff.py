"""Agents in Slack: the full handoff round trip, and claims that race, on SQLite and across two
replicas on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from aiohttp import ClientSession

from bot.channels.slack import wording as slack_wording
from bot.dialogue import wording
from handoff.tickets import EventKind, Status, Ticket
from tests.slack_fake import (
    AGENT_CHANNEL,
    FakeSlack,
    Posted,
    World,
    buttons,
    channel_message,
    dm,
    serve_deskbot,
    slack_settings,
    texts,
)

DANA, CHRIS = "UDANA", "UCHRIS"


async def hand_off(world: World, user: str) -> Posted:
    """The employee asks for a person; returns the request's post in the agent channel."""
    before = requests(world.fake)
    handoff = await world.dm(user, "talk to a person")
    assert "REQ2" in texts(handoff)
    await world.bot.settle()
    after = requests(world.fake)
    assert len(after) == len(before) + 1
    return after[-1]


def requests(fake: FakeSlack) -> list[Posted]:
    """The request posts in the agent channel (not the lines in their threads)."""
    return [p for p in fake.posts(AGENT_CHANNEL) if p.thread_ts is None]


def thread_texts(world: World, post: Posted) -> list[str]:
    return [p.text for p in world.fake.thread(AGENT_CHANNEL, post.ts)]


async def agent_says(world: World, agent: str, post: Posted, text: str) -> None:
    answer = await world.slack.event(channel_message(agent, AGENT_CHANNEL, text, post.ts))
    assert answer.status == 200
    await world.bot.settle()


async def asked_for_a_person(world: World) -> tuple[str, Posted, Ticket]:
    """Alex (a new workspace member each time) asked about the VPN, then for a person; returns
    Alex's user id, the request's post and its ticket."""
    alex = world.fake.person("Alex Morgan", "alex.morgan@example.com")
    await world.dm(alex, "my vpn fails with error 809 at the hotel")
    post = await hand_off(world, alex)
    number = post.blocks[0]["text"]["text"].split(" · ")[0]
    ticket = world.bot.services.tickets.by_number(number)
    assert ticket is not None
    return alex, post, ticket


async def claim(world: World, post: Posted) -> Posted:
    """Dana presses Claim; returns the post as it reads now."""
    assert (await world.slack.click(DANA, post, "deskbot.claim")).status == 200
    await world.bot.settle()
    return world.fake.messages[(AGENT_CHANNEL, post.ts)]


async def test_a_handoff_is_posted_for_the_agents_with_claim_and_resolve(world: World) -> None:
    _, post, ticket = await asked_for_a_person(world)
    assert ticket.requester == "alex.morgan@example.com"
    words = texts(post)
    assert "the user asked for a person" in words and "Alex Morgan" in words
    assert "809" in words and "user request" in words and "normal" in words
    assert set(buttons(post)) == {str(ticket.id)}  # Claim and Resolve carry the ticket id
    assert [b["action_id"] for b in post.blocks[-1]["elements"]] == [
        "deskbot.claim",
        "deskbot.resolve",
    ]


async def test_what_the_employee_writes_while_waiting_goes_to_the_thread(world: World) -> None:
    alex, post, ticket = await asked_for_a_person(world)
    waiting = await world.dm(alex, "I'm at the airport, hurry please")
    assert wording.WAITING_FOR_PERSON.format(number=ticket.number) in texts(waiting)
    await world.bot.settle()
    assert (
        thread_texts(world, post)[-1]
        == "*Alex Morgan* (employee): I'm at the airport, hurry please"
    )


async def test_a_claimed_request_relays_both_ways(world: World) -> None:
    alex, post, ticket = await asked_for_a_person(world)
    dm_channel = "D" + alex

    # Dana claims: the post says so, and the employee hears a named person has joined
    claimed = await claim(world, post)
    assert "Claimed by Dana Whitfield" in texts(claimed)
    assert [b["action_id"] for b in claimed.blocks[-1]["elements"]] == ["deskbot.resolve"]
    joined = world.fake.posts(dm_channel)[-1]
    assert "Dana Whitfield" in joined.text and "talking to a person" in joined.text

    # Dana's reply in the thread reaches the employee, marked as a person's words
    # (Slack escapes &, < and > in message text)
    await agent_says(
        world, DANA, post, "Try the hotel's wired network &amp; tell me &lt;what&gt; happens"
    )
    relayed = world.fake.posts(dm_channel)[-1]
    person = relayed.blocks[0]["elements"][0]["text"]
    assert "*Dana Whitfield*" in person and "a person, not the automated assistant" in person
    assert relayed.blocks[1]["text"]["text"] == (
        "Try the hotel's wired network &amp; tell me &lt;what&gt; happens"
    )

    # the employee's answer goes to the thread; the assistant stays quiet
    before = len(world.fake.posts(dm_channel))
    await world.slack.event(dm(alex, "wired works!"))
    await world.bot.settle()
    assert thread_texts(world, post)[-1] == "*Alex Morgan* (employee): wired works!"
    assert len(world.fake.posts(dm_channel)) == before

    events = world.bot.services.tickets.events(ticket.id)
    assert [e.kind for e in events].count(EventKind.CLAIMED) == 1
    assert [e.body for e in events if e.kind == EventKind.AGENT_MESSAGE] == [
        "Try the hotel's wired network & tell me <what> happens"
    ]


async def test_resolving_with_a_note_hands_the_employee_back(world: World) -> None:
    alex, post, ticket = await asked_for_a_person(world)
    dm_channel = "D" + alex
    claimed = await claim(world, post)

    # Resolve opens a dialog for a note; submitted, the employee gets the note (a pasted
    # secret redacted) and is back with the assistant, asked whether it is solved
    dialog = await world.resolve(
        DANA, claimed, "Wired network it is; your temporary password is Tr0ub4dor&3x"
    )
    assert dialog["title"]["text"] == f"Resolve {ticket.number}"
    assert dialog["blocks"][-1]["optional"] is True
    back = world.fake.posts(dm_channel)[-1]
    assert "back with deskbot, the automated assistant" in back.text
    assert "Wired network it is" in back.text and "Tr0ub4dor" not in back.text
    assert buttons(back) == {"solved": "Yes, it's solved", "human": "No, I still need help"}
    resolved = world.fake.messages[(AGENT_CHANNEL, post.ts)]
    assert "Resolved by Dana Whitfield" in texts(resolved)
    assert not any(b["type"] == "actions" for b in resolved.blocks)
    assert "Resolution: Wired network it is" in thread_texts(world, post)[-1]
    stored = world.bot.services.tickets.get(ticket.id)
    assert stored is not None and stored.resolution is not None
    assert "[redacted password]" in stored.resolution and "Tr0ub4dor" not in stored.resolution
    assert EventKind.RESOLVED in [e.kind for e in world.bot.services.tickets.events(ticket.id)]

    # the employee confirms, and the assistant answers again
    thanks = await world.press(alex, back, "solved")
    assert wording.SOLVED_THANKS in texts(thanks)
    answer = await world.dm(alex, "how can I use the VPN at home")
    assert "vpn-install-connect" in texts(answer) and wording.AUTOMATED_LABEL in texts(answer)


async def test_two_simultaneous_claims_have_one_winner(world: World) -> None:
    user = world.fake.person("Sam Taylor", "sam.taylor@example.com")
    post = await hand_off(world, user)
    answers = await asyncio.gather(
        world.slack.click(DANA, post, "deskbot.claim"),
        world.slack.click(CHRIS, post, "deskbot.claim"),
    )
    assert [a.status for a in answers] == [200, 200]
    await world.bot.settle()
    ticket_id = int(next(iter(buttons(post))))
    ticket = world.bot.services.tickets.get(ticket_id)
    assert ticket is not None and ticket.status is Status.CLAIMED
    claims = [
        e for e in world.bot.services.tickets.events(ticket_id) if e.kind == EventKind.CLAIMED
    ]
    assert len(claims) == 1 and claims[0].actor == ticket.claimed_by
    loser = CHRIS if ticket.claimed_by == "Dana Whitfield" else DANA
    [refusal] = [c for c in world.fake.called("chat.postEphemeral") if c.params["user"] == loser][
        -1:
    ]
    assert refusal.params["text"] == slack_wording.DESK_ALREADY_CLAIMED.format(
        number=ticket.number, agent=ticket.claimed_by
    )
    assert f"Claimed by {ticket.claimed_by}" in texts(world.fake.messages[(AGENT_CHANNEL, post.ts)])


async def test_replying_to_an_unclaimed_request_claims_it(world: World) -> None:
    user = world.fake.person("Priya Shah", "priya.shah@example.com")
    post = await hand_off(world, user)
    await agent_says(world, CHRIS, post, "Hi Priya, looking into it now")
    handover, message = world.fake.posts("D" + user)[-2:]
    assert "Chris Okafor" in handover.text and "talking to a person" in handover.text
    assert "Hi Priya, looking into it now" in texts(message)
    assert "Claimed by Chris Okafor" in texts(world.fake.messages[(AGENT_CHANNEL, post.ts)])


async def test_a_reply_to_a_closed_request_is_not_sent(world: World) -> None:
    user = world.fake.person("Robin Lee", "robin.lee@example.com")
    post = await hand_off(world, user)
    await world.resolve(DANA, post)
    before = len(world.fake.posts("D" + user))
    await agent_says(world, DANA, post, "one more thing")
    assert len(world.fake.posts("D" + user)) == before
    note = world.fake.called("chat.postEphemeral")[-1].params
    assert note["user"] == DANA and "was not sent" in note["text"]


async def test_a_resolve_dialog_submitted_late_is_refused(world: World) -> None:
    """Dana opens the dialog, Chris resolves meanwhile: Dana's note is refused, not sent."""
    user = world.fake.person("Noor Ali", "noor.ali@example.com")
    post = await hand_off(world, user)
    assert (await world.slack.click(DANA, post, "deskbot.resolve")).status == 200
    await world.bot.slack.work.idle()
    dana_dialog = world.fake.views[-1]
    await world.resolve(CHRIS, post, "Fixed by Chris")
    answer = await world.slack.submit(
        DANA, dana_dialog, {"deskbot.note": {"deskbot.note_text": "x"}}
    )
    assert answer.status == 200
    await world.bot.settle()
    number = post.blocks[0]["text"]["text"].split(" · ")[0]
    ticket = world.bot.services.tickets.by_number(number)
    assert ticket is not None and ticket.resolved_by == "Chris Okafor"
    assert ticket.resolution == "Fixed by Chris"
    refusal = world.fake.called("chat.postEphemeral")[-1].params
    assert refusal["user"] == DANA
    assert refusal["text"] == slack_wording.DESK_ALREADY_CLOSED.format(number=number)
    assert not any("Resolution: x" in p.text for p in world.fake.posts("D" + user))


async def test_a_dialog_for_another_post_resolves_nothing(world: World) -> None:
    """The dialog names the request's post; a submission whose post holds another request
    (a tampered or stale dialog) changes nothing."""
    first = await hand_off(world, world.fake.person("Ana Ruiz", "ana.ruiz@example.com"))
    second = await hand_off(world, world.fake.person("Ben Cho", "ben.cho@example.com"))
    assert (await world.slack.click(DANA, first, "deskbot.resolve")).status == 200
    await world.bot.slack.work.idle()
    dialog = dict(world.fake.views[-1])
    meta = json.loads(dialog["private_metadata"])
    meta["ts"] = second.ts  # the first request's id, on the second request's post
    dialog["private_metadata"] = json.dumps(meta)
    assert (await world.slack.submit(DANA, dialog, {})).status == 200
    await world.bot.settle()
    for post in (first, second):
        ticket = world.bot.services.tickets.get(int(next(iter(buttons(post)))))
        assert ticket is not None and ticket.status is Status.NEW


async def test_resolve_without_a_dialog_when_slack_will_not_open_it(world: World) -> None:
    """views.open refused (the press waited past its trigger's 3 seconds): the request is
    resolved without a note rather than the press being lost."""
    user = world.fake.person("Eli Stone", "eli.stone@example.com")
    post = await hand_off(world, user)
    ticket_id = int(next(iter(buttons(post))))
    world.fake.fail_next("views.open", status=200, retry_after=None, error="expired_trigger_id")
    assert (await world.slack.click(DANA, post, "deskbot.resolve")).status == 200
    await world.bot.settle()
    ticket = world.bot.services.tickets.get(ticket_id)
    assert ticket is not None and ticket.status is Status.RESOLVED and not ticket.resolution
    assert "back with deskbot" in world.fake.posts("D" + user)[-1].text


async def test_agents_elsewhere_show_up_in_the_thread(world: World) -> None:
    user = world.fake.person("Kim Park", "kim.park@example.com")
    post = await hand_off(world, user)
    ticket_id = int(next(iter(buttons(post))))
    relay = world.bot.runtime.relay
    assert await relay.claim(ticket_id, "Lee from the console", "console")
    assert await relay.reply(ticket_id, "Lee from the console", "Hello from the console", "console")
    await world.bot.settle()
    assert thread_texts(world, post)[-1] == (
        "*Lee from the console* (from the console desk): Hello from the console"
    )
    assert "Hello from the console" in texts(world.fake.posts("D" + user)[-1])


# -- two replicas on PostgreSQL -------------------------------------------------------------------


@pytest.mark.postgres
async def test_two_replicas_share_claims_and_deliveries(
    pg_engine: object, pg_database: str
) -> None:
    fake = await FakeSlack().start()
    settings = slack_settings(pg_database, fake)
    try:
        async with contextlib.AsyncExitStack() as stack:
            first = await stack.enter_async_context(serve_deskbot(settings))
            second = await stack.enter_async_context(serve_deskbot(settings))
            session = await stack.enter_async_context(ClientSession())
            one, two = first.sender(session), second.sender(session)

            # the same event delivered to both replicas is answered once
            event = dm("USAM", "how can I use the VPN at home")
            answers = await asyncio.gather(one.event(event, "EvBOTH"), two.event(event, "EvBOTH"))
            assert [a.status for a in answers] == [200, 200]
            await asyncio.gather(first.settle(), second.settle())
            assert len(fake.posts("DUSAM")) == 1

            # Dana presses Claim on one replica while Chris presses it on the other
            # Alex asks for a person through the dialogue core on the first replica
            await one.event(dm("UALEX", "talk to a person"), "EvALEX")
            await first.settle()
            await second.settle()
            found = first.services.conversations.find("slack", "DUALEX")
            assert found is not None and found.ticket_id is not None
            ticket_id = int(found.ticket_id)
            [post] = requests(fake)
            answers = await asyncio.gather(
                one.click(DANA, post, "deskbot.claim"), two.click(CHRIS, post, "deskbot.claim")
            )
            assert [a.status for a in answers] == [200, 200]
            await asyncio.gather(first.settle(), second.settle())
            await first.settle()
            events = first.services.tickets.events(ticket_id)
            assert [e.kind for e in events].count(EventKind.CLAIMED) == 1
            winner = first.services.tickets.get(ticket_id)
            assert winner is not None and winner.claimed_by in ("Dana Whitfield", "Chris Okafor")
            assert len(fake.called("chat.postEphemeral")) == 1
            joined = [p for p in fake.posts("DUALEX") if "has joined" in p.text]
            assert len(joined) == 1 and winner.claimed_by in joined[0].text
            shown = fake.messages[(AGENT_CHANNEL, post.ts)]
            assert f"Claimed by {winner.claimed_by}" in texts(shown)
    finally:
        await fake.close()
