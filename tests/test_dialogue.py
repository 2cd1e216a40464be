"""Conversations through the real dialogue core (fake embedder, real SQLite)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bot.dialogue import wording
from bot.dialogue.messages import Identity
from bot.dialogue.relay import Relay
from bot.dialogue.turns import Turns
from handoff.tickets import EventKind, Status
from tests.clock import CLOCK
from tests.support import ChatBot


async def test_first_message_discloses_the_assistant(bot: ChatBot) -> None:
    await bot.say("hello")
    assert bot.kinds[0] == "disclosure"
    assert "automated assistant" in bot.last[0].text and "not a person" in bot.last[0].text
    assert any(b.action == "human" for b in bot.last[0].buttons)
    await bot.say("hi again")
    assert "disclosure" not in bot.kinds  # once per conversation


async def test_answer_is_marked_automated_with_source(bot: ChatBot) -> None:
    await bot.say("how can I use the VPN at home")
    answer = bot.reply("answer")
    assert answer.automated
    assert answer.source is not None and answer.source.article_id == "vpn-install-connect"
    assert answer.source.link.startswith("https://it.example.com/kb/")
    assert answer.source.verified_on is not None
    assert {b.action for b in answer.buttons} == {"helpful", "not_helpful", "human"}
    assert "last verified" in wording.source_line(answer.source)


@pytest.mark.parametrize(
    "text",
    [
        "are you a bot?",
        "am I talking to a real person?",
        "is this a human",
        "who are you",
    ],
)
async def test_bot_or_person_is_answered_truthfully(bot: ChatBot, text: str) -> None:
    await bot.say(text)
    reply = bot.last[-1]
    assert "automated assistant, not a person" in reply.text
    assert bot.ticket() is None  # asking is not asking for a person


@pytest.mark.parametrize(
    "text",
    [
        "talk to a person",
        "I want to speak to a human",
        "can someone call me",
        "this isn't helping",
        "tlak to a persn",
        "agent please",
        "get me a real person",
    ],
)
async def test_human_request_hands_off_at_once(bot: ChatBot, text: str) -> None:
    await bot.say(text)
    assert "handoff" in bot.kinds
    ticket = bot.ticket()
    assert ticket is not None and ticket.reason == "user_request" and ticket.priority == "normal"
    assert ticket.number in bot.reply("handoff").text
    assert bot.conversation_row().mode == "human"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I clicked a link in a phishing email and typed my password", "security_incident"),
        ("my laptop was stolen from my car", "lost_device"),
        ("please give me admin rights on the finance share", "access_grant"),
        ("reset my MFA, I lost my authenticator phone", "identity_reset"),
        ("I deleted the whole project folder on the shared drive", "data_loss"),
        ("nobody in the office can connect to the internet", "outage"),
    ],
)
async def test_risky_requests_are_never_answered(bot: ChatBot, text: str, category: str) -> None:
    await bot.say(text)
    assert "answer" not in bot.kinds
    ticket = bot.ticket()
    assert ticket is not None
    assert (ticket.reason, ticket.priority, ticket.category) == ("risky_intent", "high", category)
    assert wording.RISKY_ADVICE[category] in bot.reply("handoff").text


async def test_pasted_password_is_flagged_and_never_stored(bot: ChatBot) -> None:
    await bot.say("my password is Summer2026! and it doesn't work")
    notice = bot.reply("notice")
    assert "password" in notice.text and "change it" in notice.text
    await bot.say("talk to a person")
    ticket = bot.ticket()
    rows = bot.services.conversations.messages(bot.conversation_row().id)
    everything = " ".join(
        [m.text for m in rows] + [ticket.summary, str(ticket.transcript), str(ticket.questions)]
    )
    assert "Summer2026" not in everything
    assert "[redacted password]" in everything


ASKS_FOR_A_PASSWORD = re.compile(
    r"\b(send|tell|give|share|provide|reply with|type here)\b[^.?!]{0,20}\b(me|us|here)\b"
    r"[^.?!]{0,20}\bpassword|\bwhat(\'s| is) your (current |old )?password",
    re.IGNORECASE,
)


@pytest.mark.parametrize(
    ("text", "article_id"),
    [
        ("I forgot my password", "password-reset"),
        ("I keep getting locked out of my account", "account-lockout"),
        ("which rules must a new password follow", "password-expiry-rules"),
    ],
)
async def test_password_questions_get_the_article_and_never_a_request_for_it(
    bot: ChatBot, text: str, article_id: str
) -> None:
    """Password help is the validated article's own words, nothing else; nothing the bot says
    asks for the password."""
    await bot.say(text)
    assert bot.kinds == ["disclosure", "answer"]
    answer = bot.reply("answer")
    assert answer.source is not None and answer.source.article_id == article_id
    article = bot.services.knowledge.article(article_id)
    assert article is not None and article.short_answer in answer.text
    for reply in bot.last:
        assert not ASKS_FOR_A_PASSWORD.search(reply.text), reply.text


def test_the_password_request_pattern_would_catch_a_request() -> None:
    assert ASKS_FOR_A_PASSWORD.search("Please send me your password so I can check.")
    assert ASKS_FOR_A_PASSWORD.search("What is your current password?")
    assert not ASKS_FOR_A_PASSWORD.search("Type your new password twice, then sign in.")


async def test_password_guidance_comes_from_password_articles(bot: ChatBot) -> None:
    await bot.say("I forgot my password and need to reset it")
    answer = bot.reply("answer")
    article = bot.services.knowledge.article(answer.source.article_id)  # type: ignore[union-attr]
    assert article is not None and "password" in article.tags


async def test_request_status_shows_only_own_requests(bot: ChatBot) -> None:
    await bot.say("what's the status of REQ0001234")
    mine = bot.text
    assert "REQ0001234" in mine and "VPN access" in mine
    other = bot.as_user(Identity("u-sam", "sam.taylor@example.com", "Sam"), "c-sam")
    await other.say("what's the status of REQ0001234")
    foreign = other.last[-1].text
    await other.say("what's the status of REQ0009999")
    missing = other.last[-1].text
    assert "VPN access" not in foreign
    assert foreign.replace("REQ0001234", "X") == missing.replace("REQ0009999", "X")


async def test_my_open_tickets_and_topic_match(bot: ChatBot) -> None:
    await bot.say("my open tickets")
    assert "REQ0001234" in bot.text and "REQ0001301" in bot.text and "REQ0001188" not in bot.text
    await bot.say("any news on my VPN ticket?")
    assert "REQ0001234" in bot.text and "REQ0001301" not in bot.text


async def test_status_without_a_verified_email(bot: ChatBot) -> None:
    anonymous = bot.as_user(Identity("U123", None, None), "c-anon")
    await anonymous.say("status of REQ0001234")
    assert anonymous.last[-1].text == wording.STATUS_NO_IDENTITY


async def test_low_confidence_asks_once_then_hands_off(bot: ChatBot) -> None:
    await bot.say("connecting to the VPN from my house")
    assert bot.kinds == ["disclosure", "clarify"]
    assert bot.ticket() is None
    await bot.say("connecting to vpn at my place")
    assert bot.kinds == ["handoff"]
    assert bot.ticket().reason == "repeated_failure"
    questions = [g.question for g in bot.services.gaps.gaps()]
    assert "connecting to the VPN from my house" in questions


async def test_off_topic_question_is_handed_off_without_asking_again(bot: ChatBot) -> None:
    await bot.say("recommend a good restaurant in Lisbon")
    assert "clarify" not in bot.kinds and "handoff" in bot.kinds
    assert bot.ticket().reason == "low_confidence"
    gaps = bot.services.gaps.gaps()
    assert [g.question for g in gaps] == ["recommend a good restaurant in Lisbon"]


async def test_not_helpful_is_recorded_and_offers_a_person(bot: ChatBot) -> None:
    await bot.say("how can I use the VPN at home")
    article = bot.reply("answer").source.article_id  # type: ignore[union-attr]
    await bot.press("not_helpful")
    assert bot.kinds == ["clarify"] and any(b.action == "human" for b in bot.last[0].buttons)
    assert bot.services.gaps.feedback_counts()[article] == (0, 1)
    assert any(g.reason == "not_helpful" for g in bot.services.gaps.gaps())
    await bot.press("human")
    ticket = bot.ticket()
    assert ticket.reason == "negative_feedback"
    assert ticket.feedback == ((article, False),)
    assert "not helpful" in ticket.summary.lower()


async def test_helpful_feedback(bot: ChatBot) -> None:
    await bot.say("how can I use the VPN at home")
    article = bot.reply("answer").source.article_id  # type: ignore[union-attr]
    await bot.press("helpful")
    assert bot.services.gaps.feedback_counts()[article] == (1, 0)


async def test_smalltalk(bot: ChatBot) -> None:
    await bot.say("thanks!")
    assert bot.last[-1].text == wording.SMALLTALK["thanks"]
    await bot.say("what can you do?")
    assert bot.last[-1].text == wording.SMALLTALK["capabilities"]


async def test_handoff_relay_round_trip(bot: ChatBot) -> None:
    await bot.say("my vpn fails with error 809 at the hotel")
    await bot.say("talk to a person")
    ticket = bot.ticket()
    assert "809" in ticket.facts.get("error_codes", [])
    assert ticket.transcript and any("809" in t["text"] for t in ticket.transcript)

    await bot.say("I'm still here, any ideas?")  # while waiting: to the ticket, bot is quiet
    assert all(r.kind == "notice" for r in bot.last)
    assert [e.kind for e in bot.services.tickets.events(ticket.id)][-1] is EventKind.USER_MESSAGE

    relay: Relay = bot.relay
    assert await relay.claim(ticket.id, "Dana")
    assert not await relay.claim(ticket.id, "Chris")  # only once
    assert await relay.reply(ticket.id, "Dana", "Hi Alex, try the hotspot of your phone.")
    rows = bot.services.conversations.messages(bot.conversation_row().id)
    joined = next(r for r in rows if r.role == "system")
    assert "Dana" in joined.text and "person" in joined.text
    agent = rows[-1].reply()
    assert agent is not None and agent.author == "Dana" and not agent.automated

    await bot.say("that worked, thanks")  # goes to the person, not the bot
    assert bot.last == []
    assert bot.services.tickets.events(ticket.id)[-1].body == "that worked, thanks"

    assert await relay.resolve(ticket.id, "Dana", "Hotspot workaround")
    back = bot.services.conversations.messages(bot.conversation_row().id)[-1].reply()
    assert (
        back is not None
        and "back with deskbot" in back.text
        and {b.action for b in back.buttons} >= {"solved"}
    )
    assert bot.services.tickets.get(ticket.id).status is Status.RESOLVED
    await bot.press("solved")
    assert bot.last[-1].text == wording.SOLVED_THANKS
    await bot.say("how can I use the VPN at home")
    assert "answer" in bot.kinds  # the assistant answers again


async def test_hand_back_keeps_ticket_open(bot: ChatBot) -> None:
    await bot.say("talk to a person")
    ticket = bot.ticket()
    assert await bot.relay.claim(ticket.id, "Dana")
    assert await bot.relay.hand_back(ticket.id, "Dana")
    assert bot.services.tickets.get(ticket.id).status is Status.WAITING
    assert bot.conversation_row().mode == "bot"


async def test_restart_mid_conversation_loses_nothing(bot: ChatBot, demo_url: str) -> None:
    await bot.say("how can I use the VPN at home")
    from bot import wiring
    from bot.db import make_engine
    from retrieval.embedding import HashEmbedder
    from tests.conftest import test_settings

    services = wiring.services(
        test_settings(demo_url), make_engine(demo_url), HashEmbedder(), today=CLOCK.today
    )
    wiring.warm_up(services)
    restarted = replace(bot, turns=Turns(services), relay=Relay(services), services=services)
    await restarted.press("not_helpful")  # the pending answer survived the restart
    assert restarted.kinds == ["clarify"]
    assert "disclosure" not in restarted.kinds


async def test_duplicate_delivery_is_ignored(bot: ChatBot) -> None:
    first = await bot.say("talk to a person", message_id="evt-1")
    second = await bot.say("talk to a person", message_id="evt-1")
    assert first and second == []
    mine = [
        t for t in bot.services.tickets.queue() if t.conversation_id == bot.conversation_row().id
    ]
    assert len(mine) == 1


async def test_every_decision_is_audited(bot: ChatBot) -> None:
    await bot.say("how can I use the VPN at home")
    await bot.say("talk to a person")
    rows = bot.services.conversations.decisions(bot.conversation_row().id)
    assert [(r["intent"], r["decision"]) for r in rows] == [("faq", "answer"), ("human", "handoff")]
    first = rows[0]
    assert (
        first["candidates"] and first["confidence"] is not None and first["threshold"] is not None
    )
    assert rows[1]["reason"] == "user_request"


async def test_failure_gives_apology_and_keeps_message(
    bot: ChatBot, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        name = "broken"

        def encode(self, texts: object) -> object:
            raise RuntimeError(f"model crashed on {texts}")  # quotes the user's words

    bot.services.encoder.embedder = Broken()  # type: ignore[assignment]
    replies = await bot.say("my printer is on fire")
    assert replies[0].kind == "error" and "RuntimeError" not in replies[0].text
    ticket = bot.ticket()
    assert ticket is not None and ticket.reason == "error"
    assert ticket.number in replies[0].text
    assert "printer is on fire" in str(ticket.transcript)
    assert "RuntimeError" in caplog.text  # the failure is logged...
    assert "printer is on fire" not in caplog.text  # ...without the user's words
