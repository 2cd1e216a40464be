"""Employees in Teams, at the protocol level: real HTTP into /api/messages, real replies to a
local fake Bot Connector, the real dialogue core on the demo knowledge base (local mode: no app
id, so no tokens; authentication has its own tests)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from bot.channels.teams import wording as teams_wording
from bot.channels.teams.channel import Tuning, registration
from bot.channels.teams.delivery import RetryPolicy
from bot.dialogue import wording
from bot.dialogue.messages import Reply
from bot.settings import Settings
from retrieval.embedding import HashEmbedder, Vectors
from tests.teams_fake import (
    ALEX,
    BOT,
    GENERAL,
    GUEST,
    PRIYA,
    actions,
    ai_labelled,
    installed,
    mention,
    message,
    personal,
    press,
    teams_world,
    thread_reply,
)

VPN = "how can I use the VPN at home"


async def test_personal_message_gets_the_disclosure_then_an_answer_card(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        replies = await world.say(ALEX, VPN)
        assert len(replies) == 2
        disclosure, answer = replies
        assert "automated assistant" in disclosure.words and "not a person" in disclosure.words
        assert [a["title"] for a in actions(disclosure.activity)] == ["Talk to a person"]

        card = answer.activity["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert "vpn.example.com" in answer.words  # the article's short answer
        assert (
            "[Install and connect to the VPN](https://it.example.com/kb/vpn-install-connect)"
            in answer.words
        )
        assert "last verified 8 September 2026" in answer.words
        assert wording.AUTOMATED_LABEL in answer.words
        assert [(a["title"], a["data"]) for a in actions(answer.activity)] == [
            ("Helpful", {"deskbot": "helpful"}),
            ("Not helpful", {"deskbot": "not_helpful"}),
            ("Talk to a person", {"deskbot": "human"}),
        ]
        assert ai_labelled(disclosure.activity) and ai_labelled(answer.activity)
        entity = answer.activity["entities"][0]
        assert entity["@type"] == "Message" and entity["@context"] == "https://schema.org"

        again = await world.say(ALEX, "I forgot my password")
        assert again and not any("not a person" in p.words for p in again)  # disclosed once
        assert "Reset a forgotten password" in again[-1].words


async def test_channel_mention_is_answered_in_its_thread(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        asked = mention(ALEX, GENERAL, VPN)
        assert (await world.teams.send(asked)).status == 201
        thread = asked["conversation"]["id"]
        replies = world.connector.in_conversation(thread)
        assert [p.reply_to for p in replies] == [asked["id"], asked["id"]]
        assert "vpn.example.com" in replies[-1].words  # the mention was not part of the question

        # channel talk that does not mention deskbot is not for it (with the RSC permission
        # Teams delivers every channel message)
        before = len(world.connector.posted)
        chatter = thread_reply(PRIYA, thread, "anyone else's VPN slow today?")
        assert (await world.teams.send(chatter)).status == 201
        assert len(world.connector.posted) == before


async def test_card_buttons_become_actions(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        answer = (await world.say(ALEX, VPN))[-1]
        helpful = press(ALEX, answer, "Helpful")
        assert (await world.teams.send(helpful)).status == 201
        thanks = [p for p in world.chat(ALEX) if p.reply_to == helpful["id"]]
        assert [p.words for p in thanks] == [wording.FEEDBACK_THANKS]

        person = press(ALEX, answer, "Talk to a person")
        assert (await world.teams.send(person)).status == 201
        handoff = [p for p in world.chat(ALEX) if p.reply_to == person["id"]][-1]
        conversation = world.bot.services.conversations.find("teams", personal(ALEX)["id"])
        assert conversation is not None and conversation.ticket_id is not None
        ticket = world.bot.services.tickets.get(conversation.ticket_id)
        assert ticket is not None and ticket.number in handoff.words
        assert ticket.requester == "alex.morgan@example.com"  # from the roster


async def test_install_sends_the_welcome_which_is_the_disclosure(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        added = installed(ALEX)
        assert (await world.teams.send(added)).status == 201
        [welcome] = world.chat(ALEX)
        assert "not a person" in welcome.words and "mention me in a channel" in welcome.words
        assert ai_labelled(welcome.activity)
        assert [a["title"] for a in actions(welcome.activity)] == ["Talk to a person"]

        replies = await world.say(ALEX, VPN)
        assert len(replies) == 1 and "vpn.example.com" in replies[0].words  # no second disclosure
        conversation = world.bot.services.conversations.find("teams", personal(ALEX)["id"])
        assert conversation is not None
        history = world.bot.services.conversations.messages(conversation.id)
        assert history[0].text == teams_wording.WELCOME

        # another member joining a chat is no install
        other = installed(ALEX) | {"membersAdded": [{"id": PRIYA.id}]}
        assert (await world.teams.send(other)).status == 201
        assert len(world.chat(ALEX)) == 2


async def test_request_status_uses_the_roster_identity_never_the_text(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        status = (await world.say(ALEX, "what's the status of my requests?"))[-1]
        assert "REQ0001234" in status.words and "REQ0001301" in status.words

        # Priya claiming to be Alex sees her own requests, not Alex's
        claimed = (await world.say(PRIYA, "I am alex.morgan@example.com, status of my requests"))[
            -1
        ]
        assert "REQ0001234" not in claimed.words and "REQ0001402" in claimed.words

        # no e-mail in the roster: answers still work, status explains why it cannot look
        guest = (await world.say(GUEST, "status of my requests"))[-1]
        assert wording.STATUS_NO_IDENTITY in guest.words

        roster_calls = [c for c in world.connector.calls if "/members/" in c.path]
        await world.say(ALEX, "what's the status of my requests?")
        assert len([c for c in world.connector.calls if "/members/" in c.path]) == len(
            roster_calls
        )  # cached


async def test_a_redelivered_activity_is_answered_once(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        sent = message(ALEX, VPN)
        for _ in range(3):
            assert (await world.teams.send(dict(sent))).status == 201
        assert len(world.chat(ALEX)) == 2  # disclosure and answer, once

        # Teams message ids are only unique within a conversation
        same_id = message(PRIYA, VPN) | {"id": sent["id"]}
        assert (await world.teams.send(same_id)).status == 201
        assert len(world.chat(PRIYA)) == 2


async def test_throttling_and_gateway_errors_are_retried(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        world.connector.fail_next(429, times=2, retry_after="0", method="POST")
        world.connector.fail_next(502, times=1, method="POST")
        started = time.monotonic()
        replies = await world.say(ALEX, VPN)
        assert len(replies) == 2 and "vpn.example.com" in replies[-1].words
        posts = [c for c in world.connector.calls if c.method == "POST"]
        assert len(posts) == 5  # the disclosure took four attempts, the answer one
        assert time.monotonic() - started < 5


async def test_a_reply_teams_refuses_goes_to_the_outbox(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        world.connector.fail_next(403, times=1, method="POST")  # not worth retrying now
        sent = message(ALEX, VPN)
        assert (await world.teams.send(sent)).status == 201
        assert world.chat(ALEX) == []
        assert world.bot.services.outbox.depth() == 1

        assert await world.bot.deliver() == 1
        replies = world.chat(ALEX)
        assert len(replies) == 2 and "vpn.example.com" in replies[-1].words
        assert all(p.reply_to is None for p in replies)  # proactive: new messages in the chat


class SlowEmbedder(HashEmbedder):
    """A model that takes its time (a cold start, a busy CPU): while `held`, it works until
    `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.held = False
        self.working = threading.Event()
        self.release = threading.Event()

    def encode(self, texts: Sequence[str]) -> Vectors:
        if self.held:
            self.working.set()
            self.release.wait(60)
        return super().encode(texts)


async def test_a_slow_answer_is_announced_in_time_then_follows(demo_url: str) -> None:
    slow = SlowEmbedder()
    tuning = Tuning(first_reply_seconds=0.5)
    async with teams_world(demo_url, tuning=tuning, embedder=slow) as world:
        slow.held = True
        sent = message(ALEX, VPN)
        assert (await world.teams.send(sent)).status == 201
        # answered while the model is still at work: the notice did not wait for it
        assert slow.working.is_set() and not slow.release.is_set()
        [notice] = world.chat(ALEX)
        assert notice.words == teams_wording.STILL_WORKING and notice.reply_to == sent["id"]
        slow.release.set()

        outbox = world.bot.services.outbox
        await world.connector.wait_for(lambda: outbox.depth() > 0, within=10)
        assert await world.bot.deliver() == 1
        later = world.chat(ALEX)[1:]
        assert len(later) == 2 and "vpn.example.com" in later[-1].words
        assert all(p.reply_to is None for p in later)


async def test_messages_to_one_conversation_are_paced(demo_url: str) -> None:
    tuning = Tuning(first_reply_seconds=30.0, windows=((0.4, 2),))
    async with teams_world(demo_url, tuning=tuning) as world:
        await world.say(ALEX, "hello")
        conversation = world.bot.services.conversations.find("teams", personal(ALEX)["id"])
        assert conversation is not None
        replies = [
            Reply(f"line {n}", "agent", automated=False, author="Dana").to_dict() for n in range(5)
        ]
        world.bot.services.outbox.add("teams", conversation.reference, {"replies": replies})
        before = len(world.chat(ALEX))
        await world.bot.deliver()
        times = [p.at for p in world.chat(ALEX)[before:]]
        assert len(times) == 5
        assert all(
            later - earlier >= 0.35 for earlier, later in zip(times, times[2:], strict=False)
        )
        person = world.chat(ALEX)[-1]
        assert "**Dana** · IT service desk" in person.words and not ai_labelled(person.activity)


MALFORMED: list[tuple[str, bytes, dict[str, str], int]] = [
    ("no content type", b"{}", {}, 415),
    ("form encoded", b"type=message", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ("not JSON", b"{not json", {"Content-Type": "application/json"}, 400),
    ("not UTF-8", b"\xff\xfe{", {"Content-Type": "application/json"}, 400),
    ("a list", b"[1, 2]", {"Content-Type": "application/json"}, 400),
    ("no type", b'{"text": "hi"}', {"Content-Type": "application/json"}, 400),
]


def _activity_with(**changes: Any) -> bytes:
    base = message(ALEX, "hi") | {"serviceUrl": "http://127.0.0.1:9/"}
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return json.dumps(base).encode()


BROKEN = [
    ("empty type", _activity_with(type="")),
    ("type not a string", _activity_with(type=5)),
    ("no serviceUrl", _activity_with(serviceUrl=None)),
    ("serviceUrl not http", _activity_with(serviceUrl="file:///etc/passwd")),
    ("from is a string", _activity_with(**{"from": "alex"})),
    ("no conversation", _activity_with(conversation=None)),
    ("conversation without id", _activity_with(conversation={"conversationType": "personal"})),
    ("no recipient", _activity_with(recipient=None)),
    ("bad timestamp", _activity_with(timestamp="yesterday")),
    ("entities not a list", _activity_with(entities="mention")),
]


async def test_malformed_activities_never_crash_the_server(
    demo_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with teams_world(demo_url) as world:
        for name, body, headers, expected in MALFORMED:
            answer = await world.teams.raw(body, headers)
            assert answer.status == expected, name
        for name, body in BROKEN:
            answer = await world.teams.raw(body, {"Content-Type": "application/json"})
            assert answer.status == 400, name
        CARD_ACTION = "adaptiveCard/action"
        # each with the answer it gets: accepted (201) and ignored, a 400 naming the bad
        # field, or an invoke deskbot does not handle answered 200 (never a 5xx)
        odd: list[tuple[dict[str, Any], int]] = [
            (message(ALEX, "") | {"value": "not an object"}, 201),
            (message(ALEX, "") | {"value": {"deskbot": "x" * 500}}, 201),
            (message(ALEX, "hi") | {"entities": [{"type": "mention", "mentioned": "bot"}]}, 201),
            (message(ALEX, "hi") | {"text": 42}, 400),
            (installed(ALEX) | {"membersAdded": "everyone"}, 400),
            ({**message(ALEX, "hi"), "type": "messageReaction"}, 201),
            (message(ALEX, "hi") | {"type": "invoke", "name": CARD_ACTION, "value": 3}, 200),
            (mention(ALEX, GENERAL, "hi") | {"channelData": "general"}, 201),
        ]
        with caplog.at_level(logging.INFO):
            for activity, expected in odd:
                answer = await world.teams.send(activity)
                assert answer.status == expected, (activity, answer)
        assert "Traceback" not in caplog.text
        healthy = await world.teams.session.get(world.bot.url + "/healthz")
        assert healthy.status == 200
        assert len(await world.say(PRIYA, VPN)) == 2


async def test_no_user_text_in_the_log(demo_url: str, caplog: pytest.LogCaptureFixture) -> None:
    secret = "MySecretPassw0rd!"
    async with teams_world(demo_url) as world:
        with caplog.at_level(logging.DEBUG):
            world.connector.fail_next(403, method="POST")
            await world.teams.send(message(ALEX, f"my password is {secret} and the VPN fails"))
            await world.teams.raw(
                json.dumps({"text": secret}).encode(), {"Content-Type": "application/json"}
            )
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("host", "values", "mounted"),
    [
        ("127.0.0.1", {}, True),  # local mode, like the Bot Framework Emulator
        ("::1", {}, True),
        ("localhost", {}, True),
        ("0.0.0.0", {}, False),  # an open endpoint would post wherever a caller says
        ("10.1.2.3", {}, False),
        ("0.0.0.0", {"MicrosoftAppId": "app", "MicrosoftAppPassword": "pw"}, True),
        ("0.0.0.0", {"MicrosoftAppId": "app"}, False),  # no secret: no outbound token
        (
            "0.0.0.0",
            {
                "MicrosoftAppId": "app",
                "MicrosoftAppPassword": "pw",
                "MicrosoftAppType": "SingleTenant",
            },
            False,  # single-tenant needs its tenant
        ),
        (
            "0.0.0.0",
            {
                "MicrosoftAppId": "app",
                "MicrosoftAppPassword": "pw",
                "MicrosoftAppType": "SingleTenant",
                "MicrosoftAppTenantId": "contoso",
            },
            True,
        ),
        ("0.0.0.0", {"MicrosoftAppId": "app", "MicrosoftAppType": "UserAssignedMSI"}, False),
    ],
)
def test_when_the_endpoint_is_mounted(
    host: str, values: dict[str, str], mounted: bool, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(DESKBOT_DATABASE_URL="sqlite://", **values)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="bot.channels.teams"):
        app = registration(settings, host)
    assert (app is not None) is mounted
    if not mounted:
        assert "not mounted" in caplog.text  # and the log says why
    if app is not None and values.get("MicrosoftAppTenantId"):
        assert app.tenant == "contoso"


def test_retry_waits_are_jittered_and_respect_retry_after() -> None:
    policy = RetryPolicy(attempts=5, base_seconds=0.5, cap_seconds=8.0)
    waits = [policy.delay(3, None) for _ in range(200)]
    assert all(0 <= w <= 4.0 for w in waits) and len({round(w, 3) for w in waits}) > 100
    assert all(policy.delay(0, 2.0) >= 2.0 for _ in range(20))
    assert float(np.mean(waits)) == pytest.approx(2.0, abs=0.5)


async def test_bot_echoes_and_activities_without_ids_are_harmless(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        echo = message(ALEX, VPN) | {"from": dict(BOT)}
        assert (await world.teams.send(echo)).status == 201
        no_id = message(PRIYA, VPN)
        no_id.pop("id")
        assert (await world.teams.send(no_id)).status == 201
        assert world.chat(ALEX) == [] and len(world.chat(PRIYA)) == 2
