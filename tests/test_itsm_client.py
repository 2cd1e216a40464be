"""The pieces under every adapter: backoff, Retry-After, the circuit breaker, the client's
refusals to leak credentials, the ticket texts, and push signatures."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from aiohttp import web

from handoff.itsm.config import JiraConfig, ServiceNowConfig, ZendeskConfig
from handoff.itsm.errors import Rejected, Unavailable, Uncertain
from handoff.itsm.http import BasicCredentials, Client
from handoff.itsm.resilience import BreakerState, CircuitBreaker, RetryPolicy, backoff, retry_after
from handoff.itsm.signatures import verify_jira, verify_servicenow, verify_zendesk
from handoff.itsm.text import NOTES_LIMIT, case_notes, described
from tests.itsm_fake import FakeClock, hand_off
from tests.support import listening


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=20.0)
    assert [backoff(n, policy, lambda: 1.0) for n in range(8)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0
    ]
    assert backoff(5, policy, lambda: 0.0) == 0.0


def test_retry_after_reads_seconds_dates_and_servicenows_reset() -> None:
    now = 1_795_000_000.0
    later = format_datetime(datetime.fromtimestamp(now + 90, UTC), usegmt=True)
    assert retry_after({"Retry-After": "7"}, now) == 7
    assert retry_after({"Retry-After": later}, now) == pytest.approx(90)
    assert retry_after({"X-RateLimit-Reset": str(int(now + 42))}, now) == 42
    assert retry_after({"Retry-After": "5", "X-RateLimit-Reset": str(int(now + 42))}, now) == 42
    assert retry_after({"X-RateLimit-Reset": str(int(now - 10))}, now) == 0
    assert retry_after({"Retry-After": "soon"}, now) is None
    assert retry_after({}, now) is None


def test_the_breaker_opens_lets_one_trial_through_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(3, 30.0, lambda: clock.now)
    for _ in range(3):
        assert breaker.wait() == 0
        breaker.failed()
    assert breaker.state is BreakerState.OPEN and breaker.wait() == 30
    clock.advance(30)
    assert breaker.wait() == 0  # the trial
    assert breaker.wait() > 0  # a second caller waits for the trial's answer
    breaker.failed()  # the trial failed: open again
    assert breaker.state is BreakerState.OPEN and breaker.wait() == 30
    clock.advance(30)
    assert breaker.wait() == 0
    breaker.succeeded()
    assert breaker.state is BreakerState.CLOSED and breaker.wait() == 0


async def test_credentials_never_go_to_another_host_nor_follow_a_redirect() -> None:
    seen: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        raise web.HTTPFound("http://elsewhere.example/steal")

    app = web.Application()
    app.router.add_get("/moved", moved)
    async with listening(app) as url:
        client = Client(
            "Test",
            url,
            BasicCredentials("svc", "pw-123"),
            read_error=lambda data: "",
            timing=FakeClock().timing(),
        )
        with pytest.raises(Rejected, match="pointed to another host"):
            await client.call("GET", "http://elsewhere.example/api", needs="read")
        with pytest.raises(Rejected, match=r"rejected GET /moved \(302\)"):
            await client.call("GET", "/moved", needs="read")
        await client.close()
    assert len(seen) == 1  # the redirect was not followed


async def test_a_write_that_never_left_is_retried_and_one_that_may_have_is_not() -> None:
    clock = FakeClock()
    app = web.Application()
    async with listening(app) as url:
        pass  # nothing listens any more: connections are refused before anything is sent
    client = Client(
        "Test",
        url,
        BasicCredentials("svc", "pw"),
        read_error=lambda data: "",
        policy=RetryPolicy(attempts=3, breaker_failures=10),
        timing=clock.timing(),
    )
    with pytest.raises(Unavailable, match="cannot reach Test") as caught:
        await client.call("POST", "/things", json={}, needs="write")
    assert not isinstance(caught.value, Uncertain) and len(clock.sleeps) == 2
    await client.close()


def test_configs_never_show_their_secrets() -> None:
    shown = " ".join(
        repr(c)
        for c in (
            ServiceNowConfig("https://x", "u", "pw-1", client_id="id", client_secret="cs-2"),
            JiraConfig("https://x", "a@b", "tok-3"),
            ZendeskConfig("https://x", "a@b", "tok-4"),
            BasicCredentials("u", "pw-5"),
        )
    )
    for secret in ("pw-1", "cs-2", "tok-3", "tok-4", "pw-5"):
        assert secret not in shown


def test_notes_keep_the_newest_transcript_lines_when_too_long() -> None:
    long = [
        {"at": "2026-11-23T08:00:00+00:00", "role": "user", "text": f"message {n} " + "x" * 900}
        for n in range(60)
    ]
    ticket = hand_off()
    notes = case_notes(dataclasses.replace(ticket, transcript=long), "REQ1")
    assert len(notes) <= NOTES_LIMIT
    assert "message 59" in notes and "message 0 " not in notes
    assert "earliest lines left out" in notes and notes.endswith("deskbot reference: REQ1")
    assert notes.startswith(ticket.summary)


def test_the_description_is_the_employees_words_only() -> None:
    text = described(hand_off())
    assert text.splitlines() == [
        "Raised through deskbot in the web chat.",
        "",
        "my vpn says error 809 since this morning",
        "my password is [redacted password] and it still fails",
    ]


def test_push_signatures() -> None:
    body, secret = b'{"sys_id": "abc"}', "shared-secret"
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    assert verify_servicenow(body, base64.b64encode(mac).decode(), secret)
    assert not verify_servicenow(body + b" ", base64.b64encode(mac).decode(), secret)
    assert not verify_servicenow(body, base64.b64encode(mac).decode(), "")
    assert verify_jira(body, f"sha256={mac.hex()}", secret)
    assert not verify_jira(body, f"sha1={mac.hex()}", secret)
    assert not verify_jira(body, "sha256=00", secret)
    stamped = hmac.new(secret.encode(), b"2026-11-23T09:00:00Z" + body, hashlib.sha256)
    signature = base64.b64encode(stamped.digest()).decode()
    assert verify_zendesk(body, signature, "2026-11-23T09:00:00Z", secret)
    assert not verify_zendesk(body, signature, "2026-11-23T09:00:01Z", secret)
