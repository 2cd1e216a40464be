"""What every external ticket system must survive, run against each one's fake: refused
credentials, a storm of 429s, an outage, and a failure after a write that succeeded."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from handoff.itsm.errors import AuthFailed, Unavailable
from handoff.itsm.systems import KINDS
from tests.itsm_cases import NAMES, case_of
from tests.itsm_fake import FakeSystem, Opened, hand_off

pytest_plugins = ("tests.itsm_fixtures",)  # the fake, opened and system fixtures
pytestmark = pytest.mark.parametrize("fake", NAMES, indirect=True)


async def test_refused_credentials_name_the_user_and_never_the_secret(
    fake: FakeSystem, opened: Opened, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    case = case_of(fake)
    secret = getattr(opened.config, case.secret_field)
    refused = opened(**{case.secret_field: "wrong-" + secret})
    with pytest.raises(AuthFailed) as caught:
        await refused.create(hand_off(), "R1")
    label = KINDS[type(opened.config)].label
    message = str(caught.value)
    assert message.startswith(f"{label} refused the credentials for user {case.user}")
    assert not caught.value.retryable
    for shown in (message, repr(refused.config), caplog.text):
        assert secret not in shown and "wrong-" not in shown
    assert case.tickets(fake) == []


async def test_a_429_storm_is_waited_out_as_long_as_asked(
    fake: FakeSystem, system: Any, opened: Opened
) -> None:
    case = case_of(fake)
    fake.fail_next("POST", case.create_path, 429, times=3, headers={"Retry-After": "7"})
    await system.create(hand_off(), "R1")
    assert len(case.tickets(fake)) == 1
    assert opened.clock.sleeps == [pytest.approx(7.25)] * 3  # 7 s asked, plus a little jitter


async def test_an_outage_opens_the_circuit_and_the_system_is_used_again_after_it(
    fake: FakeSystem, system: Any, opened: Opened
) -> None:
    fake.fail_next("GET", case_of(fake).lookup_path, 503, times=100)
    with pytest.raises(Unavailable, match="answered 503"):
        await system.requests_of("alex.morgan@example.com")  # four attempts
    with pytest.raises(Unavailable, match="answered 503"):
        await system.requests_of("alex.morgan@example.com")  # the fifth failure opens it
    assert len(fake.calls) == 5
    with pytest.raises(Unavailable, match=r"is unavailable .*next try in"):
        await system.requests_of("alex.morgan@example.com")
    assert len(fake.calls) == 5  # failed fast: the system was left alone

    fake.recover()
    opened.clock.advance(31)
    assert await system.requests_of("alex.morgan@example.com") == []
    assert system.client.breaker.state == "closed"


async def test_a_read_that_answers_too_late_is_tried_again(
    fake: FakeSystem, system: Any, opened: Opened
) -> None:
    fake.slow(0.6, case_of(fake).lookup_path, times=1)  # the client waits 0.3 s
    assert await system.requests_of("alex.morgan@example.com") == []
    assert len(opened.clock.sleeps) == 1  # one backoff, then the answer


@pytest.mark.parametrize("after", ["timeout", "504"])
async def test_a_failure_after_a_create_that_succeeded_leaves_one_ticket_and_one_note(
    fake: FakeSystem, system: Any, after: str
) -> None:
    case = case_of(fake)
    if after == "timeout":
        fake.stall_after("POST", case.create_path, 0.6)  # the client gives up after 0.3 s
    else:
        fake.stall_after("POST", case.create_path, 0.0, status=504)
    ref = await system.create(hand_off(), "REQ2000042")
    assert case.tickets(fake) == [ref.id] and case.notes(fake, ref) == 1
    assert [c.path for c in fake.calls if c.method == "POST"].count(case.create_path) == 1

    again = await system.create(hand_off(), "REQ2000042", retry=True)  # the outbox retries
    assert again == ref
    assert case.tickets(fake) == [ref.id] and case.notes(fake, ref) == 1
