"""The Slack channel's pure parts (payload parsing, Block Kit rendering) and its mounting."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from sqlalchemy import Engine

from bot import wiring
from bot.channels.slack import channel as slack
from bot.channels.slack import wording as slack_wording
from bot.channels.slack.blocks import (
    NOTE_BLOCK,
    NOTE_INPUT,
    SECTION_LIMIT,
    pressed,
    reply_message,
    resolve_modal,
    ticket_message,
)
from bot.channels.slack.events import click, note_submission, plain, well_formed
from bot.channels.slack.identity import identity_of
from bot.dialogue import wording
from bot.dialogue.messages import Button, Reply, Source
from bot.dialogue.relay import Relay
from bot.dialogue.turns import Turns
from bot.settings import DEMO_KB_PATH, Settings
from handoff.tickets import Status, Ticket
from retrieval.embedding import HashEmbedder
from tests.clock import CLOCK

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("slack_text", "expected"),
    [
        ("<@UBOT> how do I reset my password", "how do I reset my password"),
        ("see <https://it.example.com/kb|the kb> &amp; <mailto:a@b.com|a@b.com>", None),
        ("ask <@U123|dana> in <#C42|it-help>", "ask @dana in #it-help"),
        ("1 &lt; 2 &gt; 0", "1 < 2 > 0"),
        ("<!here> anyone?", "@here anyone?"),
    ],
)
def test_slack_text_becomes_plain_text(slack_text: str, expected: str | None) -> None:
    if expected is None:
        expected = "see https://it.example.com/kb & a@b.com"
    assert plain(slack_text, "UBOT") == expected


def test_payload_shapes_are_checked() -> None:
    assert well_formed({"type": "url_verification", "challenge": "x"})
    assert well_formed({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message"}})
    assert not well_formed({"type": "event_callback", "event": {"type": "message"}})  # no id
    assert not well_formed({"type": "block_actions", "user": {"id": "U1"}, "actions": [{}]})
    assert well_formed({"command": "/helpdesk", "user_id": "U1", "text": ""})
    assert not well_formed([1, 2])
    assert click({"actions": [{"action_id": "a"}]}) is None  # no channel, message or value


SOURCE = Source("vpn", "VPN <setup> & more", "https://it.example.com/kb/vpn", date(2026, 9, 8))


def test_replies_of_one_turn_share_one_message() -> None:
    replies = [
        Reply(wording.DISCLOSURE, "disclosure", buttons=(wording.TALK_TO_PERSON,)),
        Reply(
            "Open the VPN app",
            "answer",
            source=SOURCE,
            buttons=(wording.HELPFUL, wording.NOT_HELPFUL, wording.TALK_TO_PERSON),
        ),
    ]
    message = reply_message(replies)
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["section", "section", "context", "actions"]  # one row of buttons
    source = message["blocks"][2]["elements"][0]["text"]
    assert source == (
        f"{wording.AUTOMATED_LABEL} · <https://it.example.com/kb/vpn|VPN &lt;setup&gt; &amp; more>"
        " · last verified 8 September 2026"
    )
    assert "Open the VPN app" in message["text"]  # the notification fallback


def test_choices_and_a_persons_words() -> None:
    choice = Reply(
        wording.CHOOSE,
        "choice",
        buttons=(Button("Add a printer", "choose:add-printer"), wording.NONE_OF_THESE),
    )
    [_text, actions] = reply_message([choice])["blocks"]
    assert [e["value"] for e in actions["elements"]] == ["choose:add-printer", "human"]
    person = Reply("Try <this> & that", "agent", automated=False, author="Dana <Whitfield>")
    [label, words] = reply_message([person])["blocks"]
    assert label["type"] == "context" and "*Dana &lt;Whitfield&gt;*" in label["elements"][0]["text"]
    assert "a person" in label["elements"][0]["text"]
    assert words["text"]["text"] == "Try &lt;this&gt; &amp; that"


def test_long_text_is_split_without_breaking_an_escape() -> None:
    text = "&" * (SECTION_LIMIT // 2)  # every character grows to five when escaped
    blocks = reply_message([Reply(text, "answer")])["blocks"]
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in blocks)
    assert "".join(b["text"]["text"] for b in blocks) == "&amp;" * len(text)


def test_a_pressed_row_becomes_a_note() -> None:
    message = reply_message([Reply("Which?", "choice", buttons=(Button("A", "choose:a"),))])
    row = message["blocks"][-1]["block_id"]
    after = pressed(message["blocks"], row, "A")
    assert after[-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": slack_wording.PRESSED.format(label="A")}],
    }


def ticket(status: Status, claimed_by: str | None = None) -> Ticket:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    return Ticket(
        id=7,
        number="REQ2000007",
        status=status,
        reason="user_request",
        priority="high",
        category="vpn",
        title="VPN fails",
        summary="Why: the user asked for a person.",
        requester="alex.morgan@example.com",
        requester_name="Alex Morgan",
        channel="slack",
        conversation_id=None,
        facts={"error_codes": ["809"], "devices": []},
        questions=(),
        offered=(),
        feedback=(),
        transcript=(),
        created_at=now,
        updated_at=now,
        claimed_by=claimed_by,
        claimed_at=None,
        resolved_by="Dana" if status is Status.RESOLVED else None,
        resolved_at=None,
        resolution=None,
    )


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        (Status.NEW, ["deskbot.claim", "deskbot.resolve"]),
        (Status.CLAIMED, ["deskbot.resolve"]),
        (Status.WAITING, ["deskbot.claim", "deskbot.resolve"]),
        (Status.RESOLVED, []),
    ],
)
def test_request_posts_offer_what_the_status_allows(status: Status, actions: list[str]) -> None:
    message = ticket_message(ticket(status, "Dana" if status is Status.CLAIMED else None))
    rows = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for r in rows for e in r["elements"]] == actions
    assert message["blocks"][0]["text"]["text"] == "REQ2000007 · VPN fails"
    words = str(message["blocks"])
    assert "error codes: 809" in words and "devices" not in words  # empty facts left out
    assert "<mailto:alex.morgan@example.com|alex.morgan@example.com>" in words


def test_the_resolve_dialog_round_trips_through_a_submission() -> None:
    request = ticket(Status.CLAIMED, "Dana")
    modal = resolve_modal(request, "C42", "1800000000.000001")
    assert len(modal["title"]["text"]) <= 24 and modal["callback_id"] == "deskbot.resolve_note"
    [note_input] = [b for b in modal["blocks"] if b["type"] == "input"]
    assert note_input["optional"] is True and note_input["element"]["max_length"] == 2000
    body = {
        "user": {"id": "UDANA"},
        "view": {
            "private_metadata": modal["private_metadata"],
            "state": {"values": {NOTE_BLOCK: {NOTE_INPUT: {"value": "Rebooted the router"}}}},
        },
    }
    submitted = note_submission(body, NOTE_BLOCK, NOTE_INPUT)
    assert submitted is not None
    assert (submitted.user, submitted.ticket_id, submitted.channel, submitted.ts) == (
        "UDANA",
        request.id,
        "C42",
        "1800000000.000001",
    )
    assert submitted.note == "Rebooted the router"
    empty = {**body, "view": {**body["view"], "state": {"values": {}}}}
    assert note_submission(empty, NOTE_BLOCK, NOTE_INPUT).note == ""  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "metadata",
    ["", "not json", '{"ticket": "seven", "channel": "C1", "ts": "1.2"}', '{"ticket": 7}'],
)
def test_a_dialog_without_its_request_is_ignored(metadata: str) -> None:
    body = {"user": {"id": "UDANA"}, "view": {"private_metadata": metadata}}
    assert note_submission(body, NOTE_BLOCK, NOTE_INPUT) is None


def test_identity_from_users_info() -> None:
    user = {"real_name": "Alex", "profile": {"email": "alex@example.com", "real_name": "Alex M"}}
    assert identity_of("U1", user).email == "alex@example.com"
    assert identity_of("U1", user).name == "Alex M"
    assert identity_of("U1", {**user, "is_bot": True}).email is None
    assert identity_of("U1", {**user, "deleted": True}).email is None
    assert identity_of("U1", {"name": "alex"}).name == "alex"


# -- mounting -------------------------------------------------------------------------------------


def settings(url: str, **extra: str) -> Settings:
    return Settings(DESKBOT_DATABASE_URL=url, DESKBOT_KB_PATH=DEMO_KB_PATH, **extra)  # type: ignore[arg-type]


def test_slack_mounts_only_when_configured(sqlite_url: str, sqlite_engine: Engine) -> None:
    def mount(config: Settings) -> tuple[web.Application, tuple[str, ...]] | None:
        services = wiring.services(config, sqlite_engine, HashEmbedder(), today=CLOCK.today)
        turns, relay = Turns(services), Relay(services)
        channel = slack.build(config, services, turns, relay)
        if channel is None:
            return None
        runtime = wiring.Runtime(config, services, turns, relay, web.Application())
        wiring.add_slack(runtime, channel)
        return runtime.app, services.desks.listening()

    base = settings(sqlite_url)
    assert mount(base) is None
    assert mount(settings(sqlite_url, SLACK_SIGNING_SECRET="s")) is None  # no bot token
    token = {"SLACK_BOT_TOKEN": "xoxb-1"}
    assert mount(settings(sqlite_url, **token)) is None  # a token alone is not enough

    http = mount(settings(sqlite_url, SLACK_SIGNING_SECRET="s", **token))
    assert http is not None
    routes = {(r.method, r.resource.canonical) for r in http[0].router.routes() if r.resource}
    assert ("POST", "/slack/events") in routes
    assert http[1] == ()  # no agent channel, no desk

    socket = mount(
        settings(sqlite_url, SLACK_APP_TOKEN="xapp-1", DESKBOT_SLACK_AGENT_CHANNEL="CDESK", **token)
    )
    assert socket is not None
    assert not [
        r for r in socket[0].router.routes() if r.resource and "slack" in r.resource.canonical
    ]
    assert socket[1] == ("desk:slack",)


def test_the_app_manifest_asks_for_what_the_channel_uses() -> None:
    manifest = yaml.safe_load((ROOT / "deploy/slack/manifest.yaml").read_text(encoding="utf-8"))
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # users.info e-mail, DMs for /helpdesk, history for thread replies, posting, the command
    assert {"users:read", "users:read.email", "im:write", "chat:write", "commands"} <= scopes
    assert {"im:history", "channels:history", "groups:history", "app_mentions:read"} <= scopes
    settings_ = manifest["settings"]
    events = set(settings_["event_subscriptions"]["bot_events"])
    assert events == {"app_mention", "message.im", "message.channels", "message.groups"}
    assert settings_["interactivity"]["is_enabled"] is True
    urls = [
        settings_["event_subscriptions"]["request_url"],
        settings_["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    assert all(url.endswith(slack.EVENTS_PATH) for url in urls)
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/helpdesk"]
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
