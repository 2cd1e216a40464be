"""Signatures, retries, rate limits and malformed input, over real HTTP with real signatures."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession

from bot.channels.slack.post import Pacer, Poster
from handoff.tickets import QueueFilter, Status
from tests.slack_fake import (
    FakeSlack,
    World,
    dm,
    event_payload,
    sign,
    signed_headers,
    texts,
)

PASSWORD = "Tr0ub4dor&3-horse"
CHALLENGE = json.dumps({"type": "url_verification", "challenge": "c-1"}).encode()


@pytest.fixture
def clock(world: World) -> Iterator[float]:
    """Freeze the server's clock for signature timestamps (a whole second, as Slack sends)."""
    world.clock.now = float(int(time.time()))
    yield world.clock.now
    world.clock.now = None


# -- signatures ----------------------------------------------------------------------------------


async def test_bad_signature_is_rejected_with_401(world: World) -> None:
    headers = signed_headers(CHALLENGE, secret="not-the-secret")
    answer = await world.slack.raw(CHALLENGE, {**headers, "Content-Type": "application/json"})
    assert answer.status == 401 and answer.json() == {"error": "invalid request"}
    tampered = signed_headers(CHALLENGE)
    answer = await world.slack.raw(CHALLENGE + b" ", tampered)  # signed bytes differ
    assert answer.status == 401


@pytest.mark.parametrize("missing", ["X-Slack-Signature", "X-Slack-Request-Timestamp", "both"])
async def test_missing_signature_headers_are_rejected(world: World, missing: str) -> None:
    headers = signed_headers(CHALLENGE)
    for name in ("X-Slack-Signature", "X-Slack-Request-Timestamp"):
        if missing in (name, "both"):
            del headers[name]
    assert (await world.slack.raw(CHALLENGE, headers)).status == 401


@pytest.mark.parametrize(("skew", "status"), [(-299, 200), (299, 200), (-301, 401), (301, 401)])
async def test_timestamps_within_five_minutes_are_accepted(
    world: World, clock: float, skew: int, status: int
) -> None:
    answer = await world.slack.signed(CHALLENGE, "application/json", int(clock) + skew)
    assert answer.status == status


async def test_a_timestamp_that_is_not_a_number_is_rejected(world: World) -> None:
    headers = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": sign(CHALLENGE, "soon")}
    assert (await world.slack.raw(CHALLENGE, headers)).status == 401


async def test_a_rejected_request_never_logs_its_body(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    event = dm("UALEX", f"my password is {PASSWORD} please reset it")
    body = json.dumps(event_payload(event)).encode()
    form = urlencode({"text": f"my password is {PASSWORD}", "command": "/helpdesk"}).encode()
    with caplog.at_level(logging.DEBUG):
        stale = signed_headers(body, int(time.time()) - 3600)
        assert (await world.slack.raw(body, stale)).status == 401
        forged = signed_headers(form, secret="forged")
        assert (await world.slack.raw(form, forged)).status == 401
        broken = b'{"type": "event_callback", "text": "my password is ' + PASSWORD.encode()
        assert (await world.slack.signed(broken, "application/json")).status == 400
    logged = caplog.text
    assert "rejected a request" in logged and "malformed request" in logged
    assert PASSWORD not in logged and "Tr0ub4dor" not in logged


# -- malformed and unknown payloads -------------------------------------------------------------

SECRET = "hunter2-" + PASSWORD  # in every malformed body: it must not reach the log
MALFORMED = [
    (b'{"type": "event_callback", "text": "SECRET", "event": ', "application/json"),
    (b'{"type": "event_callback", "event_id": "Ev1", "event": "SECRET"}', "application/json"),
    (b'{"type": "block_actions", "user": {"id": "SECRET"}, "actions": []}', "application/json"),
    (b"payload=%7Bnot+json+SECRET", "application/x-www-form-urlencoded"),
    (b"payload=%5B%22SECRET%22%5D", "application/x-www-form-urlencoded"),
    (b'{"type": "\xff\xfe SECRET"}', "application/json"),
    (b"command=&user_id=U1&text=SECRET", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
async def test_malformed_payloads_get_400_and_the_server_carries_on(
    world: World, body: bytes, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = body.replace(b"SECRET", SECRET.encode())
    with caplog.at_level(logging.DEBUG):
        answer = await world.slack.signed(body, content_type)
    assert answer.status == 400
    assert "malformed request" in caplog.text and "hunter2" not in caplog.text
    async with ClientSession() as session, session.get(world.bot.url + "/healthz") as health:
        assert health.status == 200


async def test_unknown_payloads_get_a_harmless_answer(world: World) -> None:
    before = len(world.fake.calls)
    reaction = {"type": "reaction_added", "user": "UALEX", "reaction": "tada"}
    assert (await world.slack.event(reaction)).status == 200
    action = {
        "type": "block_actions",
        "user": {"id": "UALEX"},
        "actions": [{"action_id": "someone.elses.button", "value": "x"}],
    }
    assert (await world.slack.payload(action)).status == 200
    unknown = json.dumps({"type": "something_new", "text": "hello"}).encode()
    assert (await world.slack.signed(unknown, "application/json")).status == 404
    ssl_check = await world.slack.raw(b"ssl_check=1&token=legacy", {})  # Slack's TLS probe
    assert ssl_check.status == 200 and ssl_check.body == ""
    await world.bot.settle()
    assert [c.method for c in world.fake.calls[before:]] in ([], ["auth.test"])


# -- retries and duplicates ---------------------------------------------------------------------


async def test_an_event_delivered_four_times_is_answered_once(world: World) -> None:
    user = world.fake.person("Alex Morgan", "alex.morgan@example.com")
    event = dm(user, "talk to a person")
    event_id = "EvRETRY0001"
    answers = await asyncio.gather(
        *(world.slack.event(event, event_id, retry=n or None) for n in range(4))
    )
    assert [a.status for a in answers] == [200] * 4
    await world.bot.settle()
    [reply] = world.fake.posts("D" + user)
    assert "REQ2" in texts(reply)
    conversation = world.bot.services.conversations.find("slack", "D" + user)
    assert conversation is not None
    every = world.bot.services.tickets.queue(QueueFilter(statuses=tuple(Status)))
    assert len([t for t in every if t.conversation_id == conversation.id]) == 1


async def test_a_retry_whose_original_never_arrived_is_answered(world: World) -> None:
    user = world.fake.person("Sam Taylor", "sam.taylor@example.com")
    answer = await world.slack.event(dm(user, "how can I use the VPN at home"), retry=1)
    assert answer.status == 200
    [reply] = await world.fake.wait_posts("D" + user, 1)
    assert "vpn-install-connect" in texts(reply)


async def test_acknowledges_at_once_however_slow_the_work(world: World) -> None:
    user = world.fake.person("Slow Lookup", "slow@example.com")
    world.fake.delays["users.info"] = 3.5  # longer than Slack waits for an answer
    try:
        answer = await world.slack.event(dm(user, "how can I use the VPN at home"))
        assert answer.status == 200 and answer.seconds < 1.0
        assert world.fake.posts("D" + user) == []
        [reply] = await world.fake.wait_posts("D" + user, 1)
        assert "vpn-install-connect" in texts(reply)
    finally:
        del world.fake.delays["users.info"]


# -- Slack's rate limits ------------------------------------------------------------------------


async def test_http_429_is_retried_after_retry_after(world: World) -> None:
    user = world.fake.person("Rate Limited", "rl@example.com")
    world.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    await world.slack.event(dm(user, "how can I use the VPN at home"))
    [reply] = await world.fake.wait_posts("D" + user, 1)
    attempts = [
        c for c in world.fake.called("chat.postMessage") if c.params["channel"] == "D" + user
    ]
    assert len(attempts) == 2 and attempts[1].at - attempts[0].at >= 1.0
    assert "vpn-install-connect" in texts(reply)
    await world.bot.settle()
    assert len(world.fake.posts("D" + user)) == 1


def test_pacer_spaces_posts_per_channel_after_a_burst() -> None:
    now = [100.0]
    pacer = Pacer(rate=1.0, burst=3, clock=lambda: now[0])
    waits = [pacer.reserve("C1") for _ in range(5)]
    assert waits == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert pacer.reserve("C2") == 0.0  # channels are paced separately
    now[0] += 10.0  # a quiet spell refills the burst
    assert [pacer.reserve("C1") for _ in range(3)] == [0.0, 0.0, 0.0]


async def test_posts_to_one_channel_go_out_at_the_paced_rate() -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    fake = await FakeSlack().start()
    try:
        poster = Poster(AsyncWebClient(token="xoxb-t", base_url=fake.api_url), Pacer(4.0, 1))
        message = {"text": "hi", "blocks": []}
        await asyncio.gather(
            *(poster.post("C1", message) for _ in range(4)), poster.post("C2", message)
        )
        times = [c.at for c in fake.called("chat.postMessage") if c.params["channel"] == "C1"]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(times) == 4 and min(gaps) >= 0.2
        other = next(c.at for c in fake.called("chat.postMessage") if c.params["channel"] == "C2")
        assert other - times[0] < 0.2  # not held up by the busy channel
    finally:
        await fake.close()
