"""The poll lease that several replicas share, on SQLite and PostgreSQL: one poller at a time,
once per interval between them, a dead poller's lease expiring, and a poll that outlived its
lease storing nothing. And the push endpoints: only a signed push makes deskbot poll early."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import Engine

from handoff.itsm.polls import PollStore
from tests.itsm_deskbot import serve_itsm, texts

EVERY = timedelta(seconds=30)
HOLD = timedelta(minutes=2)


class Now:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


async def test_replicas_take_turns_and_poll_once_per_interval(engine: Engine) -> None:
    now = Now()
    a, b = PollStore(engine, now), PollStore(engine, now)
    # both replicas start at once: exactly one gets the lease
    leases = await asyncio.gather(
        *(
            asyncio.to_thread(store.take, "servicenow", name, every=EVERY, hold=HOLD)
            for store, name in ((a, "a"), (b, "b"))
        )
    )
    won = [lease for lease in leases if lease is not None]
    assert len(won) == 1 and won[0].cursor is None
    loser = b if won[0].holder == "a" else a
    assert loser.take("servicenow", "late", every=EVERY, hold=HOLD) is None  # held
    assert a.finish(won[0], '{"at": "2026-11-24 09:00:00"}')
    assert b.take("servicenow", "b", every=EVERY, hold=HOLD) is None  # polled just now
    assert a.take("jira", "a", every=EVERY, hold=HOLD) is not None  # each system its own
    now.at += EVERY
    lease = b.take("servicenow", "b", every=EVERY, hold=HOLD)
    assert lease is not None and lease.cursor == '{"at": "2026-11-24 09:00:00"}'

    # b dies while polling: its lease expires and a takes over; b's late result is dropped
    now.at += HOLD + timedelta(seconds=1)
    taken = a.take("servicenow", "a", every=EVERY, hold=HOLD)
    assert taken is not None
    assert not b.finish(lease, '{"at": "stale"}')
    assert a.finish(taken, '{"at": "2026-11-24 09:03:00"}')
    assert a.cursor("servicenow") == '{"at": "2026-11-24 09:03:00"}'

    # a failed poll keeps the cursor and still waits an interval
    now.at += EVERY
    failed = a.take("servicenow", "a", every=EVERY, hold=HOLD)
    assert failed is not None and a.release(failed)
    assert a.cursor("servicenow") == '{"at": "2026-11-24 09:03:00"}'
    assert a.take("servicenow", "a", every=EVERY, hold=HOLD) is None


def servicenow_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def test_a_signed_push_makes_deskbot_poll_before_the_interval(demo_url: str) -> None:
    secret = "push-Secret-7"
    async with serve_itsm("servicenow", demo_url, DESKBOT_SERVICENOW_PUSH_SECRET=secret) as desk:
        alex = desk.employee()
        try:
            await alex.open()
            await alex.say("talk to a person")
            await desk.deliver()
            (ticket,) = desk.handoffs()
            ref = desk.ref(ticket)
            poller = desk.itsm.poller
            await desk.poll()
            await alex.news()
            desk.answer(ref, "On my way to your desk.")
            desk.advance(5)  # well within the 30 s interval
            await poller.run(rounds=1)
            assert await alex.news() == []  # not due, and nobody pushed

            body = b'{"table": "incident", "sys_id": "%s"}' % ref.id.encode()
            url = desk.base + "/itsm/servicenow/push"
            async with aiohttp.ClientSession() as http:
                forged = {"X-Deskbot-Signature": servicenow_signature(body, "guess")}
                async with http.post(url, data=body, headers=forged) as r:
                    assert r.status == 401
                await poller.run(rounds=1)
                assert await alex.news() == []
                signed = {"X-Deskbot-Signature": servicenow_signature(body, secret)}
                async with http.post(url, data=body, headers=signed) as r:
                    assert r.status == 204
            await poller.run(rounds=1)
            assert texts(await alex.news())[-1] == "On my way to your desk."
        finally:
            await alex.close()


def jira_headers(body: bytes, secret: str) -> dict[str, str]:
    return {
        "X-Hub-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    }


def zendesk_headers(body: bytes, secret: str) -> dict[str, str]:
    stamp = "2026-11-24T09:00:00Z"
    mac = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


@pytest.mark.parametrize(
    ("name", "setting", "path", "sign"),
    [
        ("jira", "DESKBOT_JIRA_WEBHOOK_SECRET", "/itsm/jira/webhook", jira_headers),
        ("zendesk", "DESKBOT_ZENDESK_WEBHOOK_SECRET", "/itsm/zendesk/webhook", zendesk_headers),
    ],
)
async def test_webhooks_are_checked_by_their_systems_signature(
    name: str,
    setting: str,
    path: str,
    sign: Callable[[bytes, str], dict[str, str]],
    demo_url: str,
) -> None:
    secret = "hook-Secret-3"
    body = b'{"issue": {"key": "IT-1"}}'
    async with (
        serve_itsm(name, demo_url, **{setting: secret}) as desk,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(desk.base + path, data=body, headers=sign(body, "guess")) as r:
            assert r.status == 401
        async with http.post(desk.base + path, data=body + b" ", headers=sign(body, secret)) as r:
            assert r.status == 401  # signed, but not this body
        async with http.post(desk.base + path, data=body, headers=sign(body, secret)) as r:
            assert r.status == 204


async def test_without_a_secret_there_is_no_push_endpoint(demo_url: str) -> None:
    async with (
        serve_itsm("zendesk", demo_url) as desk,
        aiohttp.ClientSession() as http,
        http.post(desk.base + "/itsm/zendesk/webhook", data=b"{}") as r,
    ):
        assert r.status in (404, 405)
