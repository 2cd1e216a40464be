"""Malformed requests get a 4xx naming what is wrong, before any work is stored: the web chat,
the console, Slack (signed) and Teams, over real HTTP into the real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.channels.slack.blocks import RESOLVE_VIEW
from bot.console.accounts import Role
from bot.dialogue.conversations import messages_table
from bot.inbound import MAX_ACTION, MAX_ID, MAX_INT, MAX_JSON_DEPTH, MAX_TEXT
from bot.wiring import build, prepare_knowledge
from retrieval.embedding import HashEmbedder
from tests.conftest import test_settings
from tests.slack_fake import World as SlackWorld
from tests.slack_fake import copy_database, dm, event_payload, signed_headers, slack_world
from tests.support import listening
from tests.teams_fake import ALEX, message, teams_world
from tests.test_console_support import BARE_HANDLER, FAST_HASHER, PASSWORD, Client, shared_router

pytestmark = BARE_HANDLER

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"text": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"}"
NINES_30 = "9" * 30


class Chat:
    """A browser on the web chat of a local demo, signed in as a demo employee."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def sign_in(self) -> None:
        async with self.http.post(
            self.base + "/chat/session",
            data={"email": "alex.morgan@example.com"},
            headers={"Origin": self.base},
            allow_redirects=False,
        ) as r:
            assert r.status == 303, await r.text()

    async def post(
        self, body: bytes, content_type: str = "application/json", **headers: str
    ) -> tuple[int, str]:
        async with self.http.post(
            self.base + "/chat/api/messages",
            data=body,
            headers={"Content-Type": content_type, **headers},
        ) as r:
            return r.status, await r.text()


@pytest.fixture
async def demo_server(demo_url: str) -> AsyncIterator[tuple[str, Any]]:
    settings = test_settings(demo_url)
    runtime = build(settings, demo=True, embedder=HashEmbedder(), background=False)
    runtime.services.policy.router = shared_router()
    prepare_knowledge(settings, runtime.services, import_path=False)
    try:
        async with listening(runtime.app) as base:
            yield base, runtime
    finally:
        runtime.services.conversations.engine.dispose()


def stored_messages(runtime: Any) -> int:
    with runtime.services.conversations.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(messages_table)).scalar_one())


# -- the web chat -------------------------------------------------------------------------------


async def test_the_web_chat_refuses_malformed_messages_before_storing_anything(
    demo_server: tuple[str, Any],
) -> None:
    base, runtime = demo_server
    chat = Chat(base)
    try:
        await chat.sign_in()
        cases: list[tuple[bytes, str, int, str]] = [
            (DEEP, "application/json", 400, f"nested deeper than {MAX_JSON_DEPTH}"),
            (DEEP_OBJECT, "application/json", 400, f"nested deeper than {MAX_JSON_DEPTH}"),
            (b'{"text": "vpn"}', "application/json; charset=bogus-42", 415, "UTF-8"),
            (b'{"text": "vpn"}', "application/json; charset=latin-1", 415, "UTF-8"),
            (b'{"text": "\xff"}', "application/json", 400, "not UTF-8"),
            (b'{"text": ', "application/json", 400, "invalid JSON"),
            (b'["vpn"]', "application/json", 400, "JSON object"),
            (
                json.dumps({"text": "vpn", "after": 2**64}).encode(),
                "application/json",
                400,
                f"'after' must be a whole number from 0 to {MAX_INT}",
            ),
            (json.dumps({"text": "vpn", "after": -1}).encode(), "application/json", 400, "after"),
            (json.dumps({"text": "vpn", "after": "7"}).encode(), "application/json", 400, "after"),
            (json.dumps({"text": "vpn", "after": True}).encode(), "application/json", 400, "after"),
            (json.dumps({"text": 42}).encode(), "application/json", 400, "'text' must be a string"),
            (json.dumps({"text": {"a": 1}}).encode(), "application/json", 400, "'text'"),
            (
                json.dumps({"text": "x" * (MAX_TEXT + 1)}).encode(),
                "application/json",
                413,
                f"longer than {MAX_TEXT} characters",
            ),
            (
                json.dumps({"action": "a" * (MAX_ACTION + 1)}).encode(),
                "application/json",
                413,
                f"'action' is longer than {MAX_ACTION} characters",
            ),
            (b'{"text": "vpn"}', "text/plain", 415, "JSON"),
        ]
        for body, content_type, status, reason in cases:
            got, text = await chat.post(body, content_type)
            assert (got, reason in text) == (status, True), (body[:60], content_type, text)
        assert stored_messages(runtime) == 0  # nothing was stored, so a retry duplicates nothing
        async with chat.http.get(base + f"/chat/api/messages?after={NINES_30}") as r:
            assert r.status == 400 and "'after'" in await r.text()
        got, _ = await chat.post(json.dumps({"text": "x" * MAX_TEXT, "after": MAX_INT}).encode())
        assert got == 200  # the limits themselves are allowed
        assert stored_messages(runtime) >= 2
    finally:
        await chat.http.close()


async def test_a_malformed_multipart_sign_in_is_a_400(demo_server: tuple[str, Any]) -> None:
    base, _ = demo_server
    broken = b'--XyZ\r\nContent-Disposition: form-data; name="email"\r\n\r\nalex'  # never closed
    headers = {"Content-Type": "multipart/form-data; boundary=XyZ", "Origin": base}
    no_boundary = {"Content-Type": "multipart/form-data", "Origin": base}
    async with aiohttp.ClientSession() as http:
        for path in ("/chat/session", "/console/sign-in"):
            for h in (headers, no_boundary):
                async with http.post(base + path, data=broken, headers=h) as r:
                    assert r.status == 400, (path, r.status, (await r.text())[:300])
                    assert "malformed form data" in await r.text()
        async with http.post(
            base + "/chat/session",
            data=b"email=alex.morgan%40example.com",
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=bogus-42",
                "Origin": base,
            },
        ) as r:
            assert r.status == 415


# -- the console --------------------------------------------------------------------------------


async def test_console_ids_and_dates_out_of_range_are_400s(demo_server: tuple[str, Any]) -> None:
    base, runtime = demo_server
    from bot.console.accounts import AccountStore

    AccountStore(runtime.services.conversations.engine, hasher=FAST_HASHER).add(
        "root", Role.ADMIN, PASSWORD
    )
    async with Client(base) as client:
        assert (await client.sign_in("root")).status == 303
        cases = [
            (f"/console/tickets/{NINES_30}", "ticket id"),
            (f"/console/tickets/{NINES_30}/transcript", "ticket id"),
            ("/console/dashboard?from=9999-12-30&to=9999-12-31", "2999-12-31"),
            ("/console/dashboard?from=0001-01-01&to=0001-01-02", "2000-01-01"),
            ("/console/dashboard/summary.csv?from=9999-12-30&to=9999-12-31", "2999-12-31"),
            ("/console/dashboard?from=2026-01-01T00:00&to=2026-01-02", "YYYY-MM-DD"),
            (f"/console/audit?before={NINES_30}", f"from 1 to {MAX_INT}"),
            ("/console/audit?before=-5", f"from 1 to {MAX_INT}"),
        ]
        for path, reason in cases:
            response = await client.get(path)
            assert response.status == 400, (path, response.status)
            assert reason in response.text, (path, response.text[-600:])
        for form_path in (
            f"/console/tickets/{NINES_30}/claim",
            f"/console/tickets/{NINES_30}/reply",
        ):
            response = await client.post(form_path, {"text": "hello"})
            assert response.status == 400, form_path
        assert (await client.get(f"/console/tickets/{MAX_INT}")).status == 404
        async with Client(base) as other:
            await other.get("/console/sign-in")
            response = await other.post(
                "/console/sign-in", {"name": "root", "password": "p" * 1025}
            )
            assert response.status == 400 and "longer than 1024 characters" in response.text
        assert (await client.get("/console/audit?before=5")).status == 200
        assert (await client.get("/console/dashboard?from=2026-01-01&to=2026-01-31")).status == 200


# -- Slack (signed requests) --------------------------------------------------------------------


@pytest.fixture(scope="module")
async def slack(
    demo_template: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SlackWorld]:
    async with slack_world(copy_database(demo_template, tmp_path_factory.mktemp("bad"))) as w:
        yield w


async def test_a_slack_timestamp_of_400_nines_is_refused_before_signature_work(
    slack: SlackWorld,
) -> None:
    body = json.dumps(event_payload(dm("UALEX", "hi"))).encode()
    for stamp in ("9" * 400, "1e3", "-5", "١٢٣", " 12"):
        answer = await slack.slack.raw(
            body,
            {
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": "v0=" + "0" * 64,
                "Content-Type": "application/json",
            },
        )
        assert answer.status == 401, (stamp, answer)


async def test_signed_slack_payloads_of_the_wrong_shape_get_a_400_with_the_reason(
    slack: SlackWorld,
) -> None:
    user = slack.fake.person("Pat Doe", "pat.doe@example.com")
    posts_before = len(slack.fake.posts())
    view_x = {
        "type": "view_submission",
        "user": {"id": user},
        "view": "x",
        "team": {"id": "T0001"},
    }
    cases: list[tuple[dict[str, Any], str]] = [
        (view_x, "view must be an object"),
        ({**view_x, "view": {"type": "modal", "callback_id": 5}}, "callback_id"),
        ({**view_x, "view": {"type": "modal", "callback_id": "x", "state": "x"}}, "view.state"),
        ({**view_x, "view": {"callback_id": "deskbot.resolve"}}, "view.type must be a string"),
        ({"type": "view_closed", "user": "U1", "view": {}}, "user.id"),
        (event_payload(dm(user, "hi") | {"text": 42}), "event.text must be a string"),
        (event_payload(dm(user, "hi") | {"text": {"a": 1}}), "event.text must be a string"),
        (event_payload(dm(user, "hi") | {"text": ["vpn"]}), "event.text must be a string"),
        (event_payload(dm(user, "x" * 900_000)), "event.text is longer than 40000 characters"),
        (event_payload(dm(user, "hi") | {"user": "U" * 65}), "event.user is longer than 64"),
        (event_payload(dm(user, "hi"), event_id="E" * 65), "event_id is longer than 64"),
        (event_payload(dm(user, "hi") | {"channel": 7}), "event.channel must be a string"),
    ]
    for payload, reason in cases:
        if payload.get("type") == "event_callback":
            answer = await slack.slack.signed(json.dumps(payload).encode(), "application/json")
        else:
            answer = await slack.slack.payload(payload)
        assert answer.status == 400, (reason, answer.status, answer.body[:200])
        assert reason in answer.json()["error"], (reason, answer.body[:200])
    nested: Any = "x"
    for _ in range(MAX_JSON_DEPTH + 5):
        nested = [nested]
    deep_form = await slack.slack.payload({"type": "block_actions", "extra": nested})
    assert deep_form.status == 400 and f"nested deeper than {MAX_JSON_DEPTH}" in deep_form.body
    deep = await slack.slack.signed(DEEP, "application/json")
    assert deep.status == 400 and f"nested deeper than {MAX_JSON_DEPTH}" in deep.body
    bogus = await slack.slack.signed(
        json.dumps(event_payload(dm(user, "hi"))).encode(), "application/json; charset=bogus-42"
    )
    assert bogus.status == 415
    await slack.bot.settle()
    assert len(slack.fake.posts()) == posts_before  # none of them started any work
    assert (await slack.slack.event(dm(user, "x" * 30_000))).status == 200  # within Slack's limit
    await slack.bot.settle()
    with slack.bot.services.conversations.engine.connect() as conn:
        longest = conn.execute(select(func.max(func.length(messages_table.c.text)))).scalar_one()
    assert longest <= MAX_TEXT  # the core never reads more than its limit of one message


# -- Teams --------------------------------------------------------------------------------------


async def test_teams_malformed_requests_and_unknown_invokes(demo_url: str) -> None:
    async with teams_world(demo_url) as world:
        json_ct = {"Content-Type": "application/json"}
        deep = await world.teams.raw(DEEP, json_ct)
        assert deep.status == 400 and b"nested deeper" in deep.body
        bogus = await world.teams.raw(
            json.dumps(message(ALEX, "hi")).encode(),
            {"Content-Type": "application/json; charset=bogus-42"},
        )
        assert bogus.status == 415
        broken: list[tuple[dict[str, Any], bytes]] = [
            ({"text": 42}, b"text must be a string"),
            ({"text": {"a": 1}}, b"text must be a string"),
            ({"text": "x" * 900_000}, b"text is longer than 40000"),
            ({"id": "x" * (MAX_ID + 1)}, b"id is longer"),
            ({"from": ALEX.account() | {"aadObjectId": "a" * (MAX_ID + 1)}}, b"aadObjectId"),
            ({"conversation": {"id": "c" * (MAX_ID + 1)}}, b"conversation.id is longer"),
        ]
        for changes, reason in broken:
            answer = await world.teams.send(message(ALEX, "hi") | changes)
            assert answer.status == 400 and reason in answer.body, (changes.keys(), answer)
        assert not world.connector.posted  # nothing was answered, so nothing was worked on
        card = message(ALEX, "") | {
            "type": "invoke",
            "name": "adaptiveCard/action",
            "value": {"action": {"type": "Action.Execute", "verb": "mystery", "data": {}}},
        }
        answer = await world.teams.send(card)
        assert answer.status == 200, answer
        assert answer.json()["statusCode"] == 400
        assert answer.json()["type"] == "application/vnd.microsoft.error"
        assert answer.json()["value"]["code"] == "NotSupported"
        other = message(ALEX, "") | {"type": "invoke", "name": "composeExtension/query"}
        answer = await world.teams.send(other)
        assert answer.status == 200 and answer.json() == {}
        replies = await world.say(ALEX, "y" * 30_000)  # within Teams' own limit
        assert replies
    with world.bot.services.conversations.engine.connect() as conn:
        longest = conn.execute(select(func.max(func.length(messages_table.c.text)))).scalar_one()
    assert longest <= MAX_TEXT


async def test_odd_slack_payloads_are_refused_or_acknowledged_never_a_5xx(
    slack: SlackWorld,
) -> None:
    user = slack.fake.person("Lee Odd", "lee.odd@example.com")
    action = {"action_id": "deskbot.claim", "value": "1", "block_id": "b"}
    odd: list[dict[str, Any]] = [
        {"type": "block_actions", "user": {"id": user}, "actions": [action], "container": "x"},
        {
            "type": "block_actions",
            "user": {"id": user},
            "actions": [action],
            "container": {"channel_id": "CDESK", "message_ts": "1.2", "thread_ts": 5},
            "message": "x",
            "channel": 5,
        },
        {
            "type": "view_submission",
            "user": {"id": user},
            "view": {
                "type": "modal",
                "callback_id": RESOLVE_VIEW,
                "private_metadata": "[" * 1500 + "]" * 1500,
            },
        },
        {
            "type": "view_submission",
            "user": {"id": user},
            "view": {
                "type": "modal",
                "callback_id": RESOLVE_VIEW,
                "private_metadata": json.dumps({"ticket": 10**30, "channel": "C", "ts": "1"}),
            },
        },
    ]
    for payload in odd:
        answer = await slack.slack.payload(payload)
        assert answer.status in (200, 400), (payload, answer)
    await slack.bot.settle()
    healthy = await slack.slack.session.get(slack.bot.url + "/healthz")
    assert healthy.status == 200


# -- a battery over every endpoint that reads a body ---------------------------------------------

BODIES: list[bytes] = [
    b"",
    b"{",
    DEEP,
    DEEP_OBJECT,
    b"\xff\xfe\x00x",
    b"null",
    b"[]",
    b'"text"',
    b"1e999999",
    b'{"text": ' + b"1" * 5000 + b"}",
    b'{"text": "vpn", "after": ' + b"9" * 400 + b"}",
    b'{"type": "message", "text": {"a": [1, 2]}, "serviceUrl": 5}',
    b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb',
    b"payload=%7B%7B%7B",
    b"payload=" + b"%5B" * 5000,
    b"email=%FF%FE&name=%00&password=" + b"p" * 2000,
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=bogus-42",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=bogus-42",
    "text/plain",
]


async def test_no_malformed_body_to_any_endpoint_gets_a_5xx(slack: SlackWorld) -> None:
    """Slack (signed), Teams (local mode on loopback), the web chat and the console sign-in."""
    base = slack.bot.url
    statuses: dict[str, int] = {}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(base + "/chat") as r:  # a guest chat session
            assert r.status == 200
        async with http.get(base + "/console/sign-in") as r:
            assert r.status == 200
        for path in (
            "/slack/events",
            "/api/messages",
            "/chat/api/messages",
            "/chat/api/new",
            "/chat/session",
            "/chat/sign-out",
            "/console/sign-in",
        ):
            for body in BODIES:
                for content_type in CONTENT_TYPES:
                    headers = {"Content-Type": content_type}
                    if path == "/slack/events":
                        headers |= signed_headers(body)
                    async with http.post(base + path, data=body, headers=headers) as r:
                        statuses[f"{path} {content_type} {body[:30]!r}"] = r.status
        for after in ("9" * 30, "-1", "1e3", "", "٣", "0x10", "9" * 5000):
            async with http.get(base + "/chat/api/messages", params={"after": after}) as r:
                statuses[f"poll after={after[:20]}"] = r.status
    failed = {what: status for what, status in statuses.items() if status >= 500}
    assert failed == {}
    for path in ("/slack/events", "/api/messages", "/chat/api/messages"):  # reached, and refused
        assert statuses[f"{path} application/json b'[]'"] == 400, path
        assert statuses[f"{path} application/json; charset=bogus-42 b'[]'"] == 415, path
    assert len(statuses) >= 7 * len(BODIES) * len(CONTENT_TYPES)
    healthy = await slack.slack.session.get(base + "/healthz")
    assert healthy.status == 200
