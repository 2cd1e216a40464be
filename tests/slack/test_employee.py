"""Employees in Slack, at the protocol level: signed Events API requests into the real server,
Web API calls recorded by a local fake Slack."""

from __future__ import annotations

import copy
import json

from bot.channels.slack import wording as slack_wording
from bot.dialogue import wording
from tests.slack_fake import (
    BOT_ID,
    BOT_USER,
    World,
    buttons,
    channel_message,
    dm,
    mention,
    texts,
)

VPN = "how can I use the VPN at home"


async def test_direct_message_gets_disclosure_and_answer_as_block_kit(world: World) -> None:
    alex = world.fake.person("Alex Morgan", "alex.morgan@example.com")
    post = await world.dm(alex, VPN)
    words = texts(post)
    assert post.channel == "D" + alex and post.thread_ts is None
    assert "automated assistant" in words and "not a person" in words  # the disclosure first
    context = next(b for b in post.blocks if b["type"] == "context")["elements"][0]["text"]
    assert wording.AUTOMATED_LABEL in context and "last verified" in context
    assert "<https://it.example.com/kb/vpn-install-connect|Install and connect to the VPN>" in (
        context
    )
    assert buttons(post) == {
        "helpful": "Helpful",
        "not_helpful": "Not helpful",
        "human": "Talk to a person",  # once, although the disclosure offers it too
    }
    again = await world.dm(alex, "I forgot my password")
    assert "not a person" not in texts(again)  # disclosed once per conversation


async def test_mention_is_answered_in_its_thread(world: World) -> None:
    sam = world.fake.person("Sam Taylor", "sam.taylor@example.com")
    other = world.fake.person("Someone Else", "someone@example.com")
    asked = mention(sam, "CGENERAL", VPN)
    assert (await world.slack.event(asked)).status == 200
    [first] = await world.fake.wait_posts("CGENERAL", 1)
    assert first.thread_ts == asked["ts"]
    assert "vpn-install-connect" in texts(first)

    # in the same thread: a mention, then a plain reply by the same person; others are ignored
    await world.slack.event(mention(sam, "CGENERAL", "I forgot my password", asked["ts"]))
    await world.slack.event(channel_message(other, "CGENERAL", "me too", asked["ts"]))
    await world.slack.event(channel_message(sam, "CGENERAL", "talk to a person", asked["ts"]))
    await world.bot.settle()
    thread = world.fake.posts("CGENERAL")
    assert len(thread) == 3 and all(p.thread_ts == asked["ts"] for p in thread)
    assert "not a person" not in texts(thread[1])  # one conversation, disclosed once
    assert "REQ" in texts(thread[2])  # the handoff, in the thread
    assert world.bot.services.conversations.find("slack", f"CGENERAL:{asked['ts']}") is not None


async def test_helpdesk_command_acks_then_answers_in_direct_messages(world: World) -> None:
    priya = world.fake.person("Priya Shah", "priya.shah@example.com")
    answer = await world.slack.command(priya, "CGENERAL", VPN)
    assert answer.status == 200 and answer.json()["text"] == slack_wording.COMMAND_ACK
    assert answer.seconds < 1.0
    [post] = await world.fake.wait_posts("D" + priya, 1)
    assert world.fake.called("conversations.open")[-1].params["users"] == priya
    assert "You asked with /helpdesk: " + VPN in texts(post)
    assert "vpn-install-connect" in texts(post)

    usage = await world.slack.command(priya, "CGENERAL", "   ")
    assert usage.json()["text"] == slack_wording.COMMAND_USAGE


async def test_helpful_button_is_answered_once_and_marked(world: World) -> None:
    user = world.fake.person("Chris Okafor", "chris.okafor@example.com")
    answer = await world.dm(user, VPN)
    stale = copy.deepcopy(answer)  # what a second client still shows
    thanks = await world.press(user, answer, "helpful")
    assert texts(thanks).startswith(wording.FEEDBACK_THANKS)
    updated = world.fake.messages[(answer.channel, answer.ts)]
    assert updated.updates == 1
    assert "helpful" not in buttons(updated)  # the row of buttons became a note
    assert slack_wording.PRESSED.format(label="Helpful") in texts(updated)
    # a second press on the stale copy of the message changes nothing
    await world.slack.click(user, stale, "helpful")
    await world.bot.settle()
    assert len(world.fake.posts(answer.channel)) == 2


async def test_clarifying_choices_are_buttons(world: World) -> None:
    user = world.fake.person("Robin Lee", "robin.lee@example.com")
    choice = await world.dm(user, "printing")
    choices = [v for v in buttons(choice) if v.startswith("choose:")]
    assert len(choices) >= 2 and "human" in buttons(choice)
    answer = await world.press(user, choice, choices[1])
    assert choices[1].removeprefix("choose:") in texts(answer)
    assert {"helpful", "not_helpful"} <= set(buttons(answer))


async def test_request_status_uses_the_email_from_users_info(world: World) -> None:
    alex = world.fake.person("Alex Morgan", "alex.morgan@example.com")
    status = await world.dm(alex, "what's the status of REQ0001234")
    assert "REQ0001234" in texts(status) and "VPN access" in texts(status)
    await world.dm(alex, "my open tickets")
    lookups = [c for c in world.fake.called("users.info") if c.params["user"] == alex]
    assert len(lookups) == 1  # cached


async def test_user_without_email_gets_answers_and_handoffs_but_no_status(world: World) -> None:
    guest = world.fake.person("Guest Visitor", None)
    assert "vpn-install-connect" in texts(await world.dm(guest, VPN))
    status = await world.dm(guest, "what's the status of REQ0001234")
    assert wording.STATUS_NO_IDENTITY in texts(status)
    assert "VPN access" not in texts(status)
    handoff = await world.dm(guest, "talk to a person")
    assert "REQ2" in texts(handoff)


async def test_bot_messages_edits_and_unknown_users_are_ignored(world: World) -> None:
    user = world.fake.person("Quiet User", "quiet@example.com")
    channel = "D" + user
    ignored = [
        dm(BOT_USER, "our own echo", channel=channel, bot_id=BOT_ID),
        dm(user, "another bot", bot_id="BOTHER"),
        dm(user, "edited", subtype="message_changed"),
        dm(user, "joined", subtype="channel_join"),
        channel_message(user, "CGENERAL", "chatter in a channel", None),
    ]
    for event in ignored:
        assert (await world.slack.event(event)).status == 200
    await world.bot.settle()
    assert world.fake.posts(channel) == []
    assert world.bot.services.conversations.find("slack", channel) is None


async def test_url_verification_answers_the_challenge(world: World) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"}).encode()
    answer = await world.slack.signed(body, "application/json")
    assert answer.status == 200 and answer.json() == {"challenge": "abc123"}


async def test_a_reply_slack_refuses_is_kept_and_sent_later(world: World) -> None:
    user = world.fake.person("Kim Park", "kim.park@example.com")
    world.fake.fail_next("chat.postMessage", status=500, retry_after=None, error="internal_error")
    assert (await world.slack.event(dm(user, VPN))).status == 200
    await world.bot.settle()  # the failed post went to the outbox, which delivers it
    [post] = world.fake.posts("D" + user)
    assert "vpn-install-connect" in texts(post)
    assert (
        len(
            [
                c
                for c in world.fake.called("chat.postMessage")
                if c.params["channel"] == post.channel
            ]
        )
        == 2
    )
